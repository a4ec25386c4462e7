package harness

import (
	"fmt"
	"slices"

	"github.com/natschaos/natschaos/faults"
)

// notOwnedNATS is why external mode meets no need of a NATS process.
const notOwnedNATS = "in external mode natschaos does not own the nats-server processes (run it embedded, or restart the server yourself)"

// StackCapabilities is what the embedded stack — one server or a cluster — can
// do for faults: its links' proxies and reverse proxy, NATS servers it
// starts and restarts (each node of a cluster), the reference API in its
// process, its built-in workers and a job it creates. It cannot signal NATS:
// the embedded servers run inside the harness's process.
func StackCapabilities() faults.Target {
	return faults.Target{
		Meets: []faults.Need{faults.NeedLinkProxy, faults.NeedHTTPProxy, faults.NeedNATSControl, faults.NeedNATSNode,
			faults.NeedInProcessAPI, faults.NeedBuiltinWorkers, faults.NeedOwnJob},
		Why: map[faults.Need]string{
			faults.NeedNATSProcess: "the embedded NATS server runs inside the harness's process (SIGSTOP would stop the harness)",
		},
	}
}

// Capabilities is what external mode can do for faults: the proxies of
// its links and the reverse proxy on worker-api, built-in workers unless
// ExternalWorkers (--external-workers), and a job it creates unless JobID
// (--job-id) names one it did not. It owns neither the NATS processes nor
// the API's.
func (x ExternalTarget) Capabilities() faults.Target {
	externalWorkers, jobID := x.ExternalWorkers, x.JobID
	t := faults.Target{
		Meets: []faults.Need{faults.NeedLinkProxy, faults.NeedHTTPProxy, faults.NeedBuiltinWorkers, faults.NeedOwnJob},
		Why: map[faults.Need]string{
			faults.NeedNATSControl:  notOwnedNATS,
			faults.NeedNATSProcess:  notOwnedNATS,
			faults.NeedNATSNode:     notOwnedNATS,
			faults.NeedInProcessAPI: "an external API runs in a process the harness did not start: it cannot crash its result processor or restart it",
		},
	}
	if externalWorkers {
		t.Meets = slices.DeleteFunc(t.Meets, func(n faults.Need) bool { return n == faults.NeedBuiltinWorkers })
		t.Why[faults.NeedBuiltinWorkers] = "with --external-workers there are none"
	}
	if jobID != 0 {
		t.Meets = slices.DeleteFunc(t.Meets, func(n faults.Need) bool { return n == faults.NeedOwnJob })
		t.Why[faults.NeedOwnJob] = fmt.Sprintf("job %d (--job-id) is not one, and a run never touches a job it did not create: run it on a job the run creates", jobID)
	}
	return t
}
