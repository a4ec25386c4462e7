// Package faults is the fault vocabulary of natschaos (docs/scenarios.md): network
// faults as Toxiproxy toxics on a link, HTTP faults in the harness's own
// reverse proxy on the worker-api link, and process faults. A Fault knows
// nothing of the system under test: it acts through an [Env].
package faults

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"time"

	"github.com/natschaos/natschaos/protocol"
)

// The links of docs/scenarios.md, "Links", as the protocol package names
// them: each one a Toxiproxy proxy.
const (
	LinkAPINATS     = protocol.LinkAPINATS
	LinkWorkerAPI   = protocol.LinkWorkerAPI
	LinkResultsNATS = protocol.LinkResultsNATS
	// Cluster routes are named "route-1", "route-2", ... (see RouteLink).
)

// ProxyPrefix starts the name of every Toxiproxy proxy natschaos creates; it
// never touches a proxy without it. On a remote toxiproxy-server the run id
// follows (see [ProxyName]).
const ProxyPrefix = "natschaos-"

// Heal removes what an Inject did. It must be safe to call more than once.
type Heal func(ctx context.Context) error

// Fault is one kind of trouble, with its attributes already validated.
type Fault interface {
	// Name is the fault's name in the vocabulary: "latency", "down", "http_drop_response", ...
	Name() string
	// Inject starts the fault and returns how to heal it.
	Inject(ctx context.Context, env Env) (Heal, error)
}

// Env is what faults act through; the harness implements it.
type Env interface {
	// Proxies are the Toxiproxy proxies of the links.
	Proxies() Proxies
	// HTTP is the rule set of the worker-api reverse proxy.
	HTTP() *HTTPRules
	// Process controls the processes of the stack (nil where unsupported).
	Process() Process
	// Taps are the recording taps of the NATS links (nil where there are none).
	Taps() Taps
	// Rand is the run's seeded source. It is not safe for concurrent use:
	// take what a fault needs while injecting.
	Rand() *rand.Rand
}

// Toxic is one Toxiproxy toxic as the Toxiproxy API takes it; Attributes are
// already in Toxiproxy's units (milliseconds, KB/s, bytes).
type Toxic struct {
	Name       string         // unique per proxy
	Type       string         // latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data
	Stream     string         // upstream or downstream
	Toxicity   float32        // probability per connection in [0, 1]; always sent as is
	Attributes map[string]any // Toxiproxy attribute names and values
}

// Proxies drives Toxiproxy, embedded or remote, for the links of a run. Every
// proxy it creates is named ProxyPrefix+link (embedded) or
// ProxyName(run id, link) (remote).
type Proxies interface {
	// Create makes the proxy of link listening on listen ("127.0.0.1:0" for a
	// random port) and forwarding to upstream, replacing a stale proxy of the
	// same name; it returns the address it listens on.
	Create(ctx context.Context, link, listen, upstream string) (addr string, err error)
	// AddToxic adds t to the proxy of link.
	AddToxic(ctx context.Context, link string, t Toxic) error
	// RemoveToxic removes the toxic named name from the proxy of link;
	// a toxic that is not there is not an error (heals run twice).
	RemoveToxic(ctx context.Context, link, name string) error
	// SetEnabled enables or disables the proxy of link; disabled refuses
	// connections and closes open ones (the down fault).
	SetEnabled(ctx context.Context, link string, enabled bool) error
	// Heal removes every toxic from every natschaos proxy and enables them all.
	Heal(ctx context.Context) error
	// Close heals and deletes the proxies this value created.
	Close(ctx context.Context) error
}

// Process controls the processes of the stack for the process faults.
type Process interface {
	// RestartNATS stops NATS node (0 for a single server) and starts it again
	// on the same store and port; kill chooses SIGKILL over SIGTERM for an
	// external process.
	RestartNATS(ctx context.Context, node int, kill bool) error
	// PauseNATS SIGSTOPs an external NATS process for d, then SIGCONTs it.
	PauseNATS(ctx context.Context, node int, d time.Duration) error
	// CrashWorker makes one worker stop dead at its next point "receive"
	// (after a /tasks response) or "process" (after processing, before posting).
	CrashWorker(ctx context.Context, after string) error
	// SetProcessorCrash makes the result processor die between storing a
	// result and acking it when crash returns true (called once per result);
	// nil removes it.
	SetProcessorCrash(crash func() bool)
	// CancelJob cancels the run's job through the API.
	CancelJob(ctx context.Context) error
	// CreateJob creates a second job of the run's own through the API,
	// asks it for tasks and cancels it, recording each answer.
	CreateJob(ctx context.Context) error
	// RestartAPI stops the in-process API (every request and NATS
	// operation in progress aborted, its connections closed) and starts it
	// again on the same address with the same jobs.
	RestartAPI(ctx context.Context) error
}

// HTTPAction is what the worker-api reverse proxy does with one request.
// The zero value forwards the request untouched.
type HTTPAction struct {
	FaultID      string        // the fault that decided it, for the history
	Status       int           // http_status: answer this code without calling the API
	Delay        time.Duration // http_delay: hold the API's response this long
	DropResponse bool          // http_drop_response: call the API, then close without answering
	Abort        bool          // http_abort: send headers and part of the body, then close
}

// HTTPRules is the live set of HTTP faults; the reverse proxy asks Decide
// for every request. Safe for concurrent use.
type HTTPRules struct {
	rules ruleSet
}

// Decide returns the action for r: that of the first rule whose path matches
// and whose probability draw succeeds, else the zero HTTPAction.
func (h *HTTPRules) Decide(r *http.Request) HTTPAction { return h.rules.decide(r) }

// Validate checks t before it reaches Toxiproxy, which would accept a
// misspelled type or a toxicity of 2.5 without a word.
func (t Toxic) Validate() error {
	switch t.Type {
	case "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data":
	default:
		return fmt.Errorf("toxic %q: unknown type %q", t.Name, t.Type)
	}
	if t.Name == "" {
		return fmt.Errorf("%s toxic without a name", t.Type)
	}
	if t.Stream != "upstream" && t.Stream != "downstream" {
		return fmt.Errorf("toxic %q: stream %q is neither upstream nor downstream", t.Name, t.Stream)
	}
	if !(t.Toxicity >= 0 && t.Toxicity <= 1) {
		return fmt.Errorf("toxic %q: toxicity %v outside [0, 1]", t.Name, t.Toxicity)
	}
	return nil
}
