package check

import (
	"fmt"
	"math"
	"slices"

	"github.com/natschaos/natschaos/history"
)

// TerminalGuard is the terminal-guard check: after a job event with status
// CANCELING, REVOKED, SUCCESS or FAILURE, no /tasks call that began later
// (plus ε) hands out a delivery of that job, and the consumer's delivered
// stops growing once no /tasks call that began before is under way. A call
// under way passed its status check before the job ended: its fetch may
// still take, and hand out, what NATS redelivers until its wait is over. A
// handout's ms says how long its call had been under way; one without (a
// writer that cannot know) is judged as a call that began when it was
// handed out. A job going back to STARTED or RETRY lifts the guard.
// Histories name no job on a handout: one job per run is assumed.
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
	// underWay is when the last /tasks call that began before the job
	// became terminal (+ε) ended; grown holds the consumer's growths
	// after, until such a call's end explains them or the history ends.
	underWay float64
	grown    []growth
	o        offenses
}

// growth is a consumer sample whose delivered grew after the job ended.
type growth struct {
	t, since float64 // when, and when the job had ended
	from, to uint64
	status   string
}

// maxGrowths is how many unexplained growths wait for a call's end; more
// than that after the job ended are offenses at once.
const maxGrowths = 256

// NewTerminalGuard returns the terminal-guard checker.
func NewTerminalGuard(p Params) *TerminalGuard {
	return bind(&TerminalGuard{base: newBase("terminal-guard", p), since: math.Inf(1)})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *TerminalGuard) observe(e *history.Event) {
	switch e.Kind {
	case history.KindJob:
		switch {
		case isTerminal(e.JobStatus) && math.IsInf(c.since, 1):
			c.since, c.status, c.hasBase, c.gone, c.underWay = e.T, e.JobStatus, false, false, e.T
			c.terminals++
		case !isTerminal(e.JobStatus):
			c.since, c.gone = math.Inf(1), false
		}
	case history.KindHandout:
		if callStart(e) > c.since+c.r.Epsilon.Seconds() {
			c.o.add(e.Task, e.Reply, e.T, "handed out (dc=%d, worker %s) by a /tasks call that began %.3fs after the job became %s", e.DC, e.Worker, callStart(e)-c.since, c.status)
		}
	case history.KindHTTP:
		if !e.IsTasksCall() {
			break
		}
		eps := c.r.Epsilon.Seconds()
		if !math.IsInf(c.since, 1) && callStart(e) <= c.since+eps {
			c.underWay = max(c.underWay, e.T)
		}
		// A call that began before a growth's job end and ended after
		// the growth explains it, whatever the job's status is now.
		c.grown = slices.DeleteFunc(c.grown, func(g growth) bool { return callStart(e) <= g.since+eps && e.T >= g.t })
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
		if c.hasBase && e.Delivered > c.delivered && e.T > c.underWay {
			c.grown = append(c.grown, growth{e.T, c.since, c.delivered, e.Delivered, c.status})
			if len(c.grown) > maxGrowths {
				c.grew(c.grown[0])
				c.grown = c.grown[1:]
			}
		}
		c.delivered, c.hasBase = e.Delivered, true
	}
}

func (c *TerminalGuard) grew(g growth) {
	c.o.add("", "", g.t, "consumer delivered grew %d → %d %.3fs after the job became %s, with no /tasks call from before under way", g.from, g.to, g.t-g.since, g.status)
}

// Result implements [Checker]. The growths no call under way explained
// are offenses.
func (c *TerminalGuard) Result() Result {
	for _, g := range c.grown {
		c.grew(g)
	}
	c.grown = nil
	figs := map[string]float64{"terminal_statuses": float64(c.terminals), "resurrections": float64(c.zombies)}
	if c.terminals == 0 {
		return c.nothing("no job reached a terminal status", figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("job terminal %d times; %d handouts, consumer deliveries or stream resurrections after (%d resurrections)", c.terminals, c.o.n, c.zombies))
}
