package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// DefaultReadyTimeout bounds external mode's waits for the system under
// test: the API answering, its consumer appearing, traffic on the proxies.
const DefaultReadyTimeout = 60 * time.Second

// DefaultMonitorPort is nats-server's usual monitoring port: without
// MonitorURLs, external mode looks for it on the host of each NATS URL.
const DefaultMonitorPort = "8222"

// DefaultStoredEvery is how often external mode reads back which results
// the API holds (GET /jobs/{id}/ stored_ids) and the job's status during a
// run.
const DefaultStoredEvery = 100 * time.Millisecond

// ExternalConfig describes an external target: a NATS (or cluster) and an
// API that already run, and the run's settings for it. Zero values take
// the defaults of the packages they configure.
type ExternalConfig struct {
	// ExternalTarget is where the target runs and how the run may treat
	// it, as the user gave it.
	ExternalTarget
	// Worker is the template of every built-in worker.
	Worker worker.Config
	// Workers is how many built-in workers run (default 1).
	Workers int
	// AltBatchSize, when > 0, is the batch size of every other built-in
	// worker (w2, w4, …).
	AltBatchSize int
	// ConnectTimeout is the API's NATS connect timeout as the config event
	// states it: an external API does not say, so the scenario's value is
	// taken as the API's.
	ConnectTimeout time.Duration
	// SampleEvery, ProbeEvery, StoredEvery: periods of the sampler, the
	// liveness prober and the read-back of stored results.
	SampleEvery, ProbeEvery, StoredEvery time.Duration
	// Proxies is the Toxiproxy to use; nil starts one embedded.
	Proxies faults.Proxies
	// Clock is the run's clock, seconds since its start (for a Recorder,
	// its Since): it stamps the events held until the config is known.
	Clock func() float64
	// Seed seeds the Rand handed to faults.
	Seed int64
	// Logger receives the harness's own log lines; nil is silent.
	Logger *slog.Logger
	// Soak, when not nil, makes this a soak's target (external_soak.go):
	// jobs are created with NewSoakJob, the observers see every job and
	// only the events of Soak's jobs reach the history, the workers serve
	// Soak's jobs only.
	Soak *SoakJobs
}

// External is a target that already runs, put behind the harness's proxies
// and observed through its own NATS connection and the monitoring port
// (docs/external.md). It implements faults.Env and the same run
// steps as a Stack. The caller must Close it.
type External struct {
	rig    // recording through gate
	cfg    ExternalConfig
	gate   *Gate
	out    io.Writer
	errOut io.Writer

	apiBase  string // http://host:port (no /api/v2)
	Client   *APIClient
	natsOpts []nats.Option

	stored   map[string]bool // under rig.mu
	status   string          // under rig.mu: the job's status as last read back
	progress int             // under rig.mu: the progress stored as last read back
	created  int64           // under rig.mu: the job this run created (0: none), cancelled by Close
	stopRead context.CancelFunc
	readDone chan struct{}
}

var _ faults.Env = (*External)(nil)

// StartExternal checks that the NATS monitoring port answers, creates the
// proxies of the links in front of the given NATS and API, starts the
// observers and prints, to cfg.Out, the addresses the user must point the
// system under test at. Nothing is recorded until the config event is known
// (see [External.Ready]). The caller must Close the External, also after an
// error.
func StartExternal(ctx context.Context, cfg ExternalConfig, sink history.Sink) (e *External, err error) {
	if sink == nil {
		sink = history.Discard
	}
	cfg.Workers = max(cfg.Workers, 1)
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.StoredEvery <= 0 {
		cfg.StoredEvery = DefaultStoredEvery
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = cfg.Out
	}
	clock := cfg.Clock
	if clock == nil {
		start := time.Now()
		clock = func() float64 { return time.Since(start).Seconds() }
	}
	if cfg.Soak != nil {
		sink = cfg.Soak.filter(sink)
	}
	gate := NewGate(sink, clock)
	e = &External{
		cfg: cfg, gate: gate, out: cfg.Out, errOut: cfg.Err, stored: map[string]bool{},
		rig: newRig(gate, cfg.Logger, cfg.Seed, cfg.Proxies, cfg.Soak != nil),
	}
	e.listen = cfg.Listen
	defer closeOnError(&err, e.Close)
	if err := e.validate(); err != nil {
		return nil, err
	}
	if e.natsOpts, err = cfg.NATS.options(); err != nil {
		return nil, err
	}
	for i, m := range e.cfg.MonitorURLs {
		if _, err := observe.Connections(ctx, m); err != nil {
			how := "--nats-monitor-url"
			if len(cfg.MonitorURLs) == 0 {
				how = "derived from the NATS URL; give --nats-monitor-url"
			}
			return nil, fmt.Errorf("nats monitoring port of node %d at %s does not answer (%s; nats-server needs -m PORT): %s", i+1, StripUser(m), how, Redact(err.Error(), m))
		}
	}

	if err := e.startProxies(); err != nil {
		return nil, err
	}
	natsAddr, err := hostPort(cfg.NATSURLs[0], "4222")
	if err != nil {
		return nil, err
	}
	for _, link := range []string{faults.LinkAPINATS, faults.LinkResultsNATS} {
		if err := e.link(ctx, link, natsAddr); err != nil {
			return nil, err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	e.Client = &APIClient{BaseURL: e.apiBase + protocol.APIBase, Token: cfg.APIToken, HTTP: client}
	var popts []observe.ProxyOption
	if cfg.Soak == nil {
		popts = append(popts, observe.WithProxyScopeLater())
	}
	if cfg.ExternalWorkers {
		popts = append(popts, observe.WithProxyRecordTasks())
	}
	if err := e.startRecordingProxy(ctx, e.apiBase, popts...); err != nil {
		return nil, err
	}

	oopts := []observe.NATSOption{observe.WithNATSLogger(e.log), observe.WithNATSConnectOptions(e.natsOpts...)}
	if cfg.Soak == nil {
		oopts = append(oopts, observe.WithNATSScopeLater())
	}
	if cfg.ExternalWorkers {
		oopts = append(oopts, observe.WithNATSTaskLookup(e.httpProxy.TaskOf))
	}
	if cfg.ObservePublishes {
		oopts = append(oopts, observe.WithObservePublishes(""))
	}
	if e.natsObs, err = observe.NewNATSObserver(ctx, strings.Join(cfg.NATSURLs, ","), e.gate, oopts...); err != nil {
		return nil, fmt.Errorf("start nats observer: %s", Redact(err.Error(), cfg.NATSURLs...))
	}
	if err := e.startProber(ctx, e.apiBase, cfg.ProbeEvery); err != nil {
		return nil, err
	}
	e.printAddresses()
	return e, nil
}

// validate checks the target (see [ExternalTarget.Check]) and derives
// what the run needs from it: the API's base URL, the monitoring URLs.
func (e *External) validate() error {
	c := &e.cfg
	if err := c.Check(); err != nil {
		return err
	}
	u, err := url.Parse(c.APIURL)
	if err != nil {
		return fmt.Errorf("--api-url %q: want http://host:port", StripUser(c.APIURL))
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), protocol.APIBase)
	u.RawQuery, u.Fragment = "", ""
	e.apiBase = strings.TrimSuffix(u.String(), "/")
	c.MonitorURLs = c.monitorURLs()
	if c.ExternalWorkers && c.Worker.HTTPTimeout == 0 {
		c.Worker.HTTPTimeout = 30 * time.Second
	}
	return nil
}

// printAddresses tells the user where to point the system under test.
func (e *External) printAddresses() {
	w := e.out
	fmt.Fprintf(w, "natschaos: external mode: the proxies are up. Point the system under test at them:\n")
	fmt.Fprintf(w, "  API's NATS URL (link api-nats)               nats://%s   → NATS %s\n", e.links[faults.LinkAPINATS], StripUser(e.cfg.NATSURLs[0]))
	fmt.Fprintf(w, "  result processor's NATS URL (results-nats)   nats://%s   → NATS %s\n", e.links[faults.LinkResultsNATS], StripUser(e.cfg.NATSURLs[0]))
	if e.cfg.ExternalWorkers {
		fmt.Fprintf(w, "  workers' API URL (link worker-api)           %s   → API %s%s\n", e.WorkerURL(), StripUser(e.apiBase), protocol.APIBase)
	} else {
		fmt.Fprintf(w, "  built-in workers poll through worker-api     %s   → API %s%s\n", e.WorkerURL(), StripUser(e.apiBase), protocol.APIBase)
	}
	fmt.Fprintf(w, "  observing NATS directly at %s, monitoring %s\n", strings.Join(mapStrings(e.cfg.NATSURLs, StripUser), ", "), strings.Join(mapStrings(e.cfg.MonitorURLs, StripUser), ", "))
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// Close stops everything the External started — workers, read-back,
// observers, proxies — healing every fault on the way, and cancels the job
// the run created unless it already ended (never a job it did not create).
// Events held for a config that never came are written as they are. Safe
// on a half-started External; it runs on every way out of a run (its end,
// an error, Ctrl-C, SIGTERM), so it uses its own timeouts, not the run's
// context.
func (e *External) Close() {
	e.StopWorkers()
	if e.stopRead != nil {
		e.stopRead()
		<-e.readDone
		e.stopRead = nil
	}
	e.mu.Lock()
	created := e.created
	e.created = 0
	e.mu.Unlock()
	if created != 0 {
		// Heal first: the API cancels through its NATS links.
		if e.proxies != nil {
			ctx, cancel := context.WithTimeout(context.Background(), faults.DefaultHealTimeout)
			if err := e.rig.Heal(ctx); err != nil {
				e.log.Warn("heal before cancelling the job", "err", err)
			}
			cancel()
		}
		e.cancelCreated(created)
	}
	e.rig.close()
	e.gate.Release()
}

// CancelTimeout bounds the cancel of the run's job on the way out.
const CancelTimeout = 10 * time.Second

// cancelCreated cancels job, which this run created, through POST
// /jobs/{id}/cancel/ unless the API says it already ended, and says so on Err.
func (e *External) cancelCreated(job int64) {
	ctx, cancel := context.WithTimeout(context.Background(), CancelTimeout)
	defer cancel()
	if st, err := e.Client.Job(ctx, job); err == nil && protocol.Terminal(st.Status) {
		return
	}
	if err := e.Client.CancelJob(ctx, job); err != nil {
		fmt.Fprintf(e.errOut, "natschaos: could not cancel job %d that this run created: %v (cancel it yourself: POST %s%s%s)\n", job, err, StripUser(e.apiBase), protocol.APIBase, protocol.CancelPath(job))
		return
	}
	fmt.Fprintf(e.errOut, "natschaos: cancelled job %d that this run created\n", job)
}
