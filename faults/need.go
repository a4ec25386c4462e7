package faults

import (
	"fmt"
	"slices"
)

// Need is something a fault needs from the target it runs against. A fault
// lists its needs ([Def.Needs]); a target says which it meets ([Target]);
// code that must decide whether a fault can run asks [Def.Available] and never
// switches over fault names — the model is etcd's Failpoint.Available.
type Need string

// The needs of the faults of the vocabulary.
const (
	// NeedLinkProxy: the Toxiproxy proxy of the fault's link.
	NeedLinkProxy Need = "link-proxy"
	// NeedHTTPProxy: the harness's reverse proxy on worker-api.
	NeedHTTPProxy Need = "http-proxy"
	// NeedNATSControl: a NATS the harness started, which it can stop and
	// start again on the same store and port.
	NeedNATSControl Need = "nats-control"
	// NeedNATSProcess: a nats-server in an OS process of its own that the
	// harness started, to signal (SIGSTOP, SIGCONT).
	NeedNATSProcess Need = "nats-process"
	// NeedNATSNode: a NATS node named by the fault's node attribute (0 =
	// node 1); a scenario refuses a node its NATS does not have.
	NeedNATSNode Need = "nats-node"
	// NeedInProcessAPI: the reference API running in the harness's process.
	NeedInProcessAPI Need = "in-process-api"
	// NeedBuiltinWorkers: the harness's own workers.
	NeedBuiltinWorkers Need = "builtin-workers"
	// NeedOwnJob: a job the run created.
	NeedOwnJob Need = "own-job"
)

// needText says each need as "<fault> needs …" ends.
var needText = map[Need]string{
	NeedLinkProxy:      "the Toxiproxy proxy of its link",
	NeedHTTPProxy:      "the harness's reverse proxy on worker-api",
	NeedNATSControl:    "a NATS process the harness controls",
	NeedNATSProcess:    "a nats-server process of its own that the harness can signal",
	NeedNATSNode:       "a NATS node the harness controls",
	NeedInProcessAPI:   "the reference API in the harness's process",
	NeedBuiltinWorkers: "the harness's built-in workers",
	NeedOwnJob:         "a job the run created",
}

// Needs returns every [Need], in the order of their declaration.
func Needs() []Need {
	return []Need{NeedLinkProxy, NeedHTTPProxy, NeedNATSControl, NeedNATSProcess, NeedNATSNode,
		NeedInProcessAPI, NeedBuiltinWorkers, NeedOwnJob}
}

// Target is what a kind of target (the embedded stack, an embedded cluster,
// external mode) can do for faults: the needs it meets and, for each one it
// does not, why not. The harness declares one per kind of target.
type Target struct {
	Meets []Need
	// Why says, for a need the target does not meet, why not and what to do
	// instead (one clause, lower case).
	Why map[Need]string
}

// Available reports whether d can run on t: nil, or an error naming the
// first need of d that t does not meet, and why.
func (d Def) Available(t Target) error {
	for _, n := range d.Needs {
		if slices.Contains(t.Meets, n) {
			continue
		}
		why := t.Why[n]
		if why == "" {
			why = "this target does not have it"
		}
		return fmt.Errorf("%s needs %s: %s", d.Name, needText[n], why)
	}
	return nil
}

// Available is [Def.Available] for the fault s names; an unknown fault is
// for [Spec.Validate] to refuse, so it is not an error here.
func (s Spec) Available(t Target) error {
	d, ok := Lookup(s.Name)
	if !ok {
		return nil
	}
	return d.Available(t)
}
