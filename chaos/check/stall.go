package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// Stall is the stall check ("the job idle for five minutes" bug). A stall is
// an interval in which some published task is neither stored nor
// dead-lettered, no delivery is in flight at a worker (every handed-out
// delivery has its result, or is older than A), no handout or result
// happens, and workers keep asking (/tasks calls overlap the interval).
// A stall ends when the job is cancelled: what is open then is revoked.
// Reports the total and the longest stall; fails if the longest exceeds
// Params.MaxStall (default A/2). No stall starts before the first /tasks
// call started: tasks waiting for the workers to turn to their job (a soak's
// jobs queue behind one another, as the platform's worker loop serves them
// one at a time) are not stalled.
type Stall struct {
	base
	tasks  map[string]bool // task → done (stored or dead-lettered)
	bySSeq map[uint64]string
	dead   map[uint64]bool // advisories before their publish
	open   int

	inflight map[string]float64 // reply → handout time, until its result or A
	order    []flight           // handouts in time order
	head     int
	expired  float64 // latest end of a delivery that stopped being in flight by age

	lastActivity float64 // last handout or result
	openSince    float64 // when open last became > 0
	last         float64

	active bool
	start  float64
	asked  bool
	// cancelled: the job was cancelled (CANCELING, REVOKED); the tasks
	// still open then are revoked with it, not stalled, and no stall
	// starts after.
	cancelled bool

	// askGap, when > 0, cuts a stall where nobody asked for the job's
	// tasks for longer than it (PerJob: a soak's workers serve its jobs in
	// turn, so a job waits while they serve the others). lastAsk is the
	// latest end of a /tasks call.
	askGap  float64
	lastAsk float64

	handouts, calls int
	stalls          int
	total, longest  float64
	o               offenses
}

type flight struct {
	reply string
	t     float64
}

// NewStall returns the stall checker.
func NewStall(p Params) *Stall {
	return bind(&Stall{base: newBase("stall", p), tasks: map[string]bool{}, bySSeq: map[uint64]string{}, dead: map[uint64]bool{},
		inflight: map[string]float64{}, expired: math.Inf(-1), lastActivity: math.Inf(-1), openSince: math.Inf(-1)})
}

// inflightEnd is when the last delivery in flight at a worker stops being
// in flight (its handout + A), or -Inf.
func (c *Stall) inflightEnd(now float64) float64 {
	for c.head < len(c.order) {
		f := c.order[c.head]
		t, ok := c.inflight[f.reply]
		valid := ok && t == f.t
		if valid && f.t+c.a > now {
			break
		}
		if valid { // older than A: no longer in flight
			delete(c.inflight, f.reply)
			c.expired = max(c.expired, f.t+c.a)
		}
		c.head++
	}
	end := c.expired
	for n := len(c.order); n > c.head; n-- {
		f := c.order[n-1]
		if t, ok := c.inflight[f.reply]; ok && t == f.t {
			end = max(end, f.t+c.a)
			break
		}
		c.order = c.order[:n-1]
	}
	if c.head > 4096 && c.head*2 > len(c.order) {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
	return end
}

func (c *Stall) close(t float64) {
	if !c.active {
		return
	}
	c.active = false
	if !c.asked || t <= c.start {
		return
	}
	d := t - c.start
	c.stalls++
	c.total += d
	c.longest = max(c.longest, d)
	if d > c.r.MaxStall.Seconds() {
		c.o.add("", "", c.start, "stalled %.3fs (%.3fs–%.3fs): %d tasks open, none in flight, workers asking", d, c.start, t, c.open)
	}
}

func (c *Stall) done(task string, t float64) {
	if d, ok := c.tasks[task]; ok && !d {
		c.tasks[task] = true
		c.open--
		if c.open == 0 {
			c.close(t)
		}
	}
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Stall) observe(e *history.Event) {
	if !c.hasCfg {
		return
	}
	t := e.T
	c.last = max(c.last, t)
	if !c.active && c.open > 0 && !c.cancelled {
		if s := max(c.lastActivity, c.openSince, c.inflightEnd(t)); s < t {
			c.active, c.start, c.asked = true, s, false
		}
	}
	switch e.Kind {
	case history.KindPublish:
		if _, ok := c.tasks[e.Task]; ok || e.Task == "" {
			return
		}
		c.tasks[e.Task] = false
		if e.SSeq != 0 {
			c.bySSeq[e.SSeq] = e.Task
			if c.dead[e.SSeq] {
				delete(c.dead, e.SSeq)
				c.tasks[e.Task] = true
				return
			}
		}
		c.open++
		if c.open == 1 {
			c.openSince = t
		}
	case history.KindStored:
		c.done(e.Task, t)
	case history.KindAdvisory:
		if e.Type != "max_deliveries" {
			return
		}
		if task, ok := c.bySSeq[e.SSeq]; ok {
			c.done(task, t)
		} else {
			c.dead[e.SSeq] = true
		}
	case history.KindHandout:
		c.handouts++
		c.close(t)
		c.lastActivity = t
		if e.Reply != "" {
			c.inflight[e.Reply] = t
			c.order = append(c.order, flight{e.Reply, t})
		}
	case history.KindResult:
		c.close(t)
		c.lastActivity = t
		delete(c.inflight, e.Reply)
	case history.KindJob:
		if protocol.Cancelled(e.JobStatus) {
			c.close(t)
			c.cancelled = true
		}
	case history.KindHTTP:
		if e.IsTasksCall() {
			if c.calls == 0 && c.active {
				c.start = max(c.start, callStart(e))
			}
			c.cutAtGap(e)
			c.calls++
			if c.active && t > c.start {
				c.asked = true
			}
		}
	}
}

// cutAtGap ends the stall where nobody was asking (askGap > 0): a stall
// open across a gap longer than askGap between the latest end of a /tasks
// call and the start of this one ends where the gap begins and starts again
// where this call started. Calls are written when they end: a call still
// in flight across the gap (it started before and ends after this one)
// shortens the stall it covered by at most one HTTP timeout — the cut errs
// toward a shorter stall, never a false one.
func (c *Stall) cutAtGap(e *history.Event) {
	if c.askGap <= 0 {
		return
	}
	if c.calls > 0 && c.active {
		if resume := callStart(e); resume-c.lastAsk > c.askGap {
			c.close(c.lastAsk)
			c.active, c.start, c.asked = true, resume, false
		}
	}
	c.lastAsk = max(c.lastAsk, e.T)
}

// Result implements [Checker].
func (c *Stall) Result() Result {
	c.close(c.last)
	figs := map[string]float64{"stalls": float64(c.stalls), "stall_seconds": c.total, "max_stall_seconds": c.longest}
	switch {
	case !c.hasCfg:
		return c.unknown(whyNoConfig, figs)
	case len(c.tasks) == 0:
		return c.unknown("no publish event", figs)
	case c.handouts == 0:
		return c.unknown("no handout event: what workers held is unknown", figs)
	case c.calls == 0:
		return c.unknown("no /tasks call observed: whether workers were asking is unknown", figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d stalls, %.3fs in all, longest %.3fs (max %.3fs)", c.stalls, c.total, c.longest, c.r.MaxStall.Seconds()))
}
