package check

import (
	"fmt"
	"math"
	"time"

	"github.com/natschaos/natschaos/history"
)

// ResourceCleanup is the resource-cleanup check: within Params.CleanupBound
// (default 2 s) after the job becomes CANCELING, SUCCESS, FAILURE or
// REVOKED — a cancelled job's cleanup is the cancel's work, whether it
// ends REVOKED or stays CANCELING — or, when a fault window begins before
// the cleanup is due, within the bound after that window ends (and so on:
// cleanup needs NATS), its stream and consumer are gone. A window that
// begins once the cleanup was due excuses nothing: the cancel's own
// window, written once the cancel is answered, would otherwise excuse a
// cancel that hung.
//
// It reads the sampler: a consumer sample says the job's consumer exists
// (none is written while it does not); a server sample carries the job's
// stream name while the stream exists. A sampling round is a server sample
// with the consumer samples written since the previous one. The stream is
// judged only when some server sample carried it (older histories do not
// record it).
//
// Fails when the consumer or the stream is seen after the bound. Passes
// when the last round showed both gone; unknown when the history ends before the bound with the resources
// never seen gone (the run waits for them, up to the bound, before it
// ends). Nothing to judge when the job never became terminal.
type ResourceCleanup struct {
	faulted
	terminalAt float64 // +Inf while the job is not terminal
	status     string
	sampled    bool    // a consumer sample since the last server sample
	streamRec  bool    // some server sample carried the stream
	lastExists float64 // last time a sample showed the consumer or stream, after terminalAt
	what       string  // what it showed then
	lastGone   float64 // last round, after terminalAt, that showed both gone
	lastRound  float64 // last round after terminalAt
}

// DefaultCleanupBound is the default of Params.CleanupBound.
const DefaultCleanupBound = 2 * time.Second

// NewResourceCleanup returns the resource-cleanup checker.
func NewResourceCleanup(p Params) *ResourceCleanup {
	return bind(&ResourceCleanup{faulted: newFaulted("resource-cleanup", p, func(window) bool { return true }), terminalAt: math.Inf(1),
		lastExists: math.Inf(-1), lastGone: math.Inf(-1), lastRound: math.Inf(-1)})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *ResourceCleanup) observe(e *history.Event) {
	switch e.Kind {
	case history.KindJob:
		switch {
		case isTerminal(e.JobStatus) && math.IsInf(c.terminalAt, 1):
			c.terminalAt, c.status = e.T, e.JobStatus
			c.lastExists, c.lastGone, c.lastRound = math.Inf(-1), math.Inf(-1), math.Inf(-1)
		case !isTerminal(e.JobStatus):
			c.terminalAt = math.Inf(1)
		}
	case history.KindConsumer:
		c.sampled = true
		if e.T > c.terminalAt && c.own(e) {
			c.lastExists, c.what = e.T, "consumer"
		}
	case history.KindServer:
		if e.Stream != "" {
			c.streamRec = true
		}
		if e.T > c.terminalAt {
			c.lastRound = e.T
			switch {
			case c.sampled:
				c.lastExists, c.what = e.T, "consumer"
			case e.Stream != "" && c.own(e):
				c.lastExists, c.what = e.T, "stream"
			default:
				c.lastGone = e.T
			}
		}
		c.sampled = false
	}
}

// Result implements [Checker].
func (c *ResourceCleanup) Result() Result {
	bound := c.r.CleanupBound.Seconds()
	figs := map[string]float64{"cleanup_bound_seconds": bound}
	if math.IsInf(c.terminalAt, 1) {
		return c.nothing("the job never became CANCELING, SUCCESS, FAILURE or REVOKED", figs)
	}
	// The bound runs from the last end of a chain of windows, each begun
	// before the cleanup was due by the ones before it.
	from := c.terminalAt
	for longer := true; longer && !math.IsInf(from, 1); {
		longer = false
		for _, w := range c.faults.list {
			if w.end > from && w.start < from+bound {
				from, longer = w.end, true
			}
		}
	}
	if math.IsInf(from, 1) {
		return c.unknown("a fault window never ended after the job became "+c.status, figs)
	}
	deadline := from + bound
	figs["deadline_seconds"] = deadline
	figs["terminal_seconds"] = c.terminalAt
	what := "consumer"
	if c.streamRec {
		what = "stream and consumer"
	}
	var o offenses
	switch {
	case c.lastExists > deadline:
		o.add("", "", c.lastExists, "the job's %s still existed at %.3fs, %.3fs after the job became %s (bound %.1fs after %.3fs)",
			c.what, c.lastExists, c.lastExists-c.terminalAt, c.status, bound, from)
	case c.lastGone > c.lastExists:
		// The last sample showed them gone, and none showed them past
		// the deadline.
	default:
		return c.unknown(fmt.Sprintf("the history ends %.3fs after the job became %s, before its %s were seen gone (deadline %.3fs)",
			math.Max(c.lastRound, c.lastExists)-c.terminalAt, c.status, what, deadline), figs)
	}
	summary := fmt.Sprintf("the job's %s gone within %.1fs after it became %s", what, bound, c.status)
	if o.n > 0 {
		summary = fmt.Sprintf("the job's %s still existed %.1fs after it became %s", c.what, bound, c.status)
	}
	return c.result(&o, figs, summary)
}
