package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/chaos/history"
)

// Fast503 is the fast-503 check: while a fault makes NATS unreachable from
// the API (down, blackhole, reset or timeout on api-nats; a NATS restart),
// every /tasks call for a job with pending tasks answers 503 within
// connect_timeout + ε: not 200 with no tasks, not another 5xx, not a
// timeout. A call is judged when it started in a window at least
// connect_timeout + ε before the window's end (a correct answer would have
// come while NATS was still unreachable).
type Fast503 struct {
	base
	faults   windows
	tasks    map[string]bool // task → done
	bySSeq   map[uint64]string
	open     int
	terminal bool
	calls    int
	judged   int
	fast     int
	o        offenses
}

// NewFast503 returns the fast-503 checker.
func NewFast503(p Params) *Fast503 {
	return &Fast503{base: newBase(p), faults: windows{match: unreachable}, tasks: map[string]bool{}, bySSeq: map[uint64]string{}}
}

// Name implements [Checker].
func (*Fast503) Name() string { return "fast-503" }

func (c *Fast503) done(task string) {
	if d, ok := c.tasks[task]; ok && !d {
		c.tasks[task] = true
		c.open--
	}
}

// Observe implements [Checker].
func (c *Fast503) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	c.faults.observe(e)
	switch e.Kind {
	case history.KindPublish:
		if _, ok := c.tasks[e.Task]; !ok && e.Task != "" {
			c.tasks[e.Task] = false
			c.bySSeq[e.SSeq] = e.Task
			c.open++
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
		if isTasks(e) {
			c.call(e)
		}
	}
}

func (c *Fast503) call(e *history.Event) {
	c.calls++
	if c.open == 0 || c.terminal || len(c.faults.list) == 0 {
		return
	}
	start := callStart(e)
	bound := c.r.ConnectTimeout.Seconds() + c.r.Epsilon.Seconds()
	var in *window
	for i := range c.faults.list {
		w := &c.faults.list[i]
		if start < w.start {
			continue
		}
		if c.r.ConnectTimeout > 0 && start <= w.end-bound || c.r.ConnectTimeout <= 0 && e.T <= w.end {
			in = w
			break
		}
	}
	if in == nil {
		return
	}
	c.judged++
	during := fmt.Sprintf("during %s on %s (from %.3fs)", in.name, in.link, in.start)
	switch {
	case e.Err != "":
		c.o.add("", "", e.T, "/tasks by %s %s: %s after %.0f ms, want a fast 503", e.Worker, during, e.Err, e.MS)
	case e.Status == 200:
		c.o.add("", "", e.T, "/tasks by %s %s: 200 with %d tasks, want 503", e.Worker, during, e.N)
	case e.Status != 503:
		c.o.add("", "", e.T, "/tasks by %s %s: status %d, want 503", e.Worker, during, e.Status)
	case c.r.ConnectTimeout > 0 && e.MS/1000 > bound:
		c.o.add("", "", e.T, "/tasks by %s %s: 503 after %.3fs, want ≤ connect_timeout + ε = %.3fs", e.Worker, during, e.MS/1000, bound)
	default:
		c.fast++
	}
}

// Result implements [Checker].
func (c *Fast503) Result() Result {
	const name = "fast-503"
	figs := map[string]float64{"windows": float64(len(c.faults.list)), "judged": float64(c.judged), "fast_503": float64(c.fast)}
	if c.calls == 0 {
		return unknown(name, "no /tasks call observed", figs)
	}
	if len(c.faults.list) == 0 {
		return nothing(name, "no fault made NATS unreachable from the API", figs)
	}
	if c.judged == 0 {
		return nothing(name, fmt.Sprintf("no /tasks call for a job with pending tasks during %d unreachable windows", len(c.faults.list)), figs)
	}
	bound := math.NaN()
	if c.r.ConnectTimeout > 0 {
		bound = c.r.ConnectTimeout.Seconds() + c.r.Epsilon.Seconds()
	} else if c.o.n == 0 {
		return unknown(name, fmt.Sprintf("connect_timeout unknown: %d 503s not judged for speed", c.fast), figs)
	}
	return result(name, &c.o, figs, fmt.Sprintf("%d /tasks calls judged in %d unreachable windows: %d fast 503s, %d violations (bound %.3fs)",
		c.judged, len(c.faults.list), c.fast, c.o.n, bound))
}
