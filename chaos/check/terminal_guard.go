package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
)

// TerminalGuard is the terminal-guard check: after a job event with status
// CANCELING, REVOKED, SUCCESS or FAILURE (plus ε, for /tasks calls already
// under way), no delivery of that job is handed out and the consumer's
// delivered stops growing. A job going back to STARTED or RETRY lifts the
// guard. Histories name no job on a handout: one job per run is assumed.
//
// Stream resurrection: once the job is terminal and a sample shows its
// consumer gone (a server sample with no consumer sample — the sampler
// emits the consumer's before the server's, and none while the consumer
// does not exist), the consumer coming back means something recreated the
// stream that cleanup deleted: a zombie stream.
type TerminalGuard struct {
	base
	since     float64 // when the job became terminal; +Inf while it is not
	status    string
	terminals int
	delivered uint64
	hasBase   bool
	sampled   bool // a consumer sample since the last server sample
	gone      bool // after the job became terminal, a sample showed no consumer
	zombies   int
	o         offenses
}

// NewTerminalGuard returns the terminal-guard checker.
func NewTerminalGuard(p Params) *TerminalGuard {
	return &TerminalGuard{base: newBase("terminal-guard", p), since: math.Inf(1)}
}

// Observe implements [Checker].
func (c *TerminalGuard) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	switch e.Kind {
	case history.KindJob:
		switch {
		case isTerminal(e.JobStatus) && math.IsInf(c.since, 1):
			c.since, c.status, c.hasBase, c.gone = e.T, e.JobStatus, false, false
			c.terminals++
		case !isTerminal(e.JobStatus):
			c.since, c.gone = math.Inf(1), false
		}
	case history.KindHandout:
		if e.T > c.since+c.r.Epsilon.Seconds() {
			c.o.add(e.Task, e.Reply, e.T, "handed out (dc=%d, worker %s) %.3fs after the job became %s", e.DC, e.Worker, e.T-c.since, c.status)
		}
	case history.KindServer:
		if e.T > c.since && !c.sampled {
			c.gone = true
		}
		c.sampled = false
	case history.KindConsumer:
		c.sampled = true
		if e.T <= c.since+c.r.Epsilon.Seconds() {
			return
		}
		if c.gone {
			c.gone, c.hasBase = false, false
			c.zombies++
			c.o.add("", "", e.T, "the job's consumer exists again %.3fs after the job became %s, after it had been deleted: its stream was recreated", e.T-c.since, c.status)
		}
		if c.hasBase && e.Delivered > c.delivered {
			c.o.add("", "", e.T, "consumer delivered grew %d → %d %.3fs after the job became %s", c.delivered, e.Delivered, e.T-c.since, c.status)
		}
		c.delivered, c.hasBase = e.Delivered, true
	}
}

// Result implements [Checker].
func (c *TerminalGuard) Result() Result {
	figs := map[string]float64{"terminal_statuses": float64(c.terminals), "resurrections": float64(c.zombies)}
	if c.terminals == 0 {
		return c.nothing("no job reached a terminal status", figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("job terminal %d times; %d handouts, consumer deliveries or stream resurrections after (%d resurrections)", c.terminals, c.o.n, c.zombies))
}
