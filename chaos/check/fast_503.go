package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
)

// Fast503 is the fast-503 check: while a fault makes NATS unreachable from
// the API (down, blackhole, reset or timeout on api-nats; a NATS restart),
// every /tasks call for a job with pending tasks answers 503 within
// connect_timeout + ε: not 200 with no tasks, not another 5xx, not a
// timeout. A call is judged when it ran entirely inside a window, or started
// in it at least connect_timeout + ε before its end (a correct answer would
// have come while NATS was still unreachable). limit_data on api-nats is
// judged too, allowing a 200 with tasks (see cutsCalls).
type Fast503 struct {
	faulted
	// open is the tasks published and not yet done (stored or past
	// max_deliver), each with its stream sequence; bySSeq finds an open
	// task from a max_deliveries advisory. A done task is dropped: the
	// state is what is pending, not every task of the history (a soak's
	// report interval holds tens of thousands).
	open     map[string]uint64
	bySSeq   map[uint64]string
	terminal bool
	calls    int
	judged   int
	fast     int
	pending  map[int][]call503 // window index → calls waiting for its end
	o        offenses
}

// call503 is what fast-503 keeps of a /tasks call until its window ends.
type call503 struct {
	t, start, ms float64
	status, n    int
	worker, err  string
}

// NewFast503 returns the fast-503 checker.
func NewFast503(p Params) *Fast503 {
	return bind(&Fast503{faulted: newFaulted("fast-503", p, cutsCalls), open: map[string]uint64{}, bySSeq: map[uint64]string{}, pending: map[int][]call503{}})
}

// cutsCalls: the faults fast-503 judges — those that make NATS unreachable,
// and those that cut the API's NATS connections in the middle of /tasks's
// JetStream calls (limit_data on api-nats). Under limit_data a call whose bytes fit in the
// budget completes: a 200 with tasks is fine then; a 200 without (a cut
// fetch whose error was swallowed), an error or another status is not. A
// scenario using limit_data keeps tasks available during its windows.
func cutsCalls(w window) bool {
	return unreachable(w) || w.effects.Has(history.EffectNATSCut)
}

func (c *Fast503) done(task string) {
	sseq, ok := c.open[task]
	if !ok {
		return
	}
	delete(c.open, task)
	if c.bySSeq[sseq] == task {
		delete(c.bySSeq, sseq)
	}
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Fast503) observe(e *history.Event) {
	switch e.Kind {
	case history.KindFault:
		if e.Phase == "end" {
			for i, w := range c.faults.list {
				if w.id == e.ID && w.end == e.T {
					c.flush(i)
				}
			}
		}
	case history.KindPublish:
		// A task published again after it was done is pending again.
		if _, ok := c.open[e.Task]; !ok && e.Task != "" {
			c.open[e.Task] = e.SSeq
			c.bySSeq[e.SSeq] = e.Task
		}
	case history.KindStored:
		c.done(e.Task)
	case history.KindAdvisory:
		if e.Type == "max_deliveries" {
			c.done(c.bySSeq[e.SSeq])
		}
	case history.KindJob:
		c.terminal = isTerminal(e.JobStatus)
	case history.KindHTTP:
		if e.IsTasksCall() {
			c.call(e)
		}
	}
}

func (c *Fast503) bound() float64 { return c.r.ConnectTimeout.Seconds() + c.r.Epsilon.Seconds() }

func (c *Fast503) call(e *history.Event) {
	c.calls++
	if len(c.open) == 0 || c.terminal || len(c.faults.list) == 0 {
		return
	}
	x := call503{t: e.T, start: callStart(e), ms: e.MS, status: e.Status, n: e.N, worker: e.Worker, err: e.Err}
	for i, w := range c.faults.list {
		switch {
		case x.start < w.start || x.start > w.end:
		case math.IsInf(w.end, 1):
			// Whether it is judged depends on when the window ends.
			c.pending[i] = append(c.pending[i], x)
			return
		case c.in(x, w):
			c.judge(x, w)
			return
		}
	}
}

// in reports whether a call is judged in the (ended) window w: it ran
// entirely inside it, or started early enough in it that a correct answer
// would have come while NATS was still unreachable.
func (c *Fast503) in(x call503, w window) bool {
	if x.start < w.start {
		return false
	}
	return x.t <= w.end || c.r.ConnectTimeout > 0 && x.start <= w.end-c.bound()
}

func (c *Fast503) flush(i int) {
	w := c.faults.list[i]
	for _, x := range c.pending[i] {
		if c.in(x, w) {
			c.judge(x, w)
		}
	}
	delete(c.pending, i)
}

func (c *Fast503) judge(x call503, w window) {
	c.judged++
	bound := c.bound()
	during := fmt.Sprintf("during %s on %s (from %.3fs)", w.name, w.link, w.start)
	switch {
	case x.err != "":
		c.o.add("", "", x.t, "/tasks by %s %s: %s after %.0f ms, want a fast 503", x.worker, during, x.err, x.ms)
	case x.status == 200 && w.effects.Has(history.EffectNATSCut) && x.n > 0:
		c.fast++ // its bytes fitted in the budget, or it kept the part of the batch it got
	case x.status == 200:
		c.o.add("", "", x.t, "/tasks by %s %s: 200 with %d tasks, want 503", x.worker, during, x.n)
	case x.status != 503:
		c.o.add("", "", x.t, "/tasks by %s %s: status %d, want 503", x.worker, during, x.status)
	case c.r.ConnectTimeout > 0 && x.ms/1000 > bound:
		c.o.add("", "", x.t, "/tasks by %s %s: 503 after %.3fs, want ≤ connect_timeout + ε = %.3fs", x.worker, during, x.ms/1000, bound)
	default:
		c.fast++
	}
}

// Result implements [Checker].
func (c *Fast503) Result() Result {
	for i := range c.faults.list {
		for _, x := range c.pending[i] {
			c.judge(x, c.faults.list[i]) // the run ended during the fault
		}
	}
	c.pending = nil
	figs := map[string]float64{"windows": float64(len(c.faults.list)), "judged": float64(c.judged), "fast_503": float64(c.fast)}
	if c.calls == 0 {
		return c.unknown("no /tasks call observed", figs)
	}
	if len(c.faults.list) == 0 {
		return c.nothing("no fault made NATS unreachable from the API", figs)
	}
	if c.judged == 0 {
		return c.nothing(fmt.Sprintf("no /tasks call for a job with pending tasks during %d unreachable windows", len(c.faults.list)), figs)
	}
	bound := math.NaN()
	if c.r.ConnectTimeout > 0 {
		bound = c.r.ConnectTimeout.Seconds() + c.r.Epsilon.Seconds()
	} else if c.o.n == 0 {
		return c.unknown(fmt.Sprintf("connect_timeout unknown: %d 503s not judged for speed", c.fast), figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d /tasks calls judged in %d unreachable windows: %d fast 503s, %d violations (bound %.3fs)",
		c.judged, len(c.faults.list), c.fast, c.o.n, bound))
}
