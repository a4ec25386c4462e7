package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
)

// TasksLatency is the tasks-latency check: no /tasks call runs past the
// worker's HTTP timeout (an http event with err "timeout"), and the /tasks
// p99 stays under connect_timeout + 0.5 s + ε while NATS is healthy (calls
// overlapping a fault that makes NATS unreachable are left out of the p99).
type TasksLatency struct {
	faulted
	hist     msHist
	calls    int
	timeouts offenses
	slowest  history.Event
}

// NewTasksLatency returns the tasks-latency checker.
func NewTasksLatency(p Params) *TasksLatency {
	return bind(&TasksLatency{faulted: newFaulted("tasks-latency", p, unreachable)})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *TasksLatency) observe(e *history.Event) {
	if !e.IsTasksCall() {
		return
	}
	c.calls++
	if e.Err == "timeout" {
		c.timeouts.add("", "", e.T, "/tasks call by %s ran past the worker's HTTP timeout (%.0f ms, started %.3fs)", e.Worker, e.MS, callStart(e))
		return
	}
	if c.faults.overlaps(callStart(e), e.T) {
		return
	}
	c.hist.add(e.MS)
	if e.MS > c.slowest.MS {
		c.slowest = *e
	}
}

// Result implements [Checker].
func (c *TasksLatency) Result() Result {
	p99 := c.hist.quantile(0.99)
	figs := map[string]float64{"calls": float64(c.calls), "timeouts": float64(c.timeouts.n)}
	if c.hist.n > 0 {
		figs["p99_seconds"] = p99 / 1000
		figs["max_seconds"] = c.slowest.MS / 1000
	}
	if c.calls == 0 {
		return c.unknown("no /tasks call observed", figs)
	}
	ct := c.r.ConnectTimeout.Seconds()
	if ct <= 0 {
		if c.timeouts.n > 0 {
			return c.result(&c.timeouts, figs, fmt.Sprintf("%d of %d /tasks calls timed out; p99 bound unknown (no connect_timeout)", c.timeouts.n, c.calls))
		}
		return c.unknown("connect_timeout unknown (config has none, no Params.ConnectTimeout): no p99 bound", figs)
	}
	bound := ct + 0.5 + c.r.Epsilon.Seconds()
	figs["p99_bound_seconds"] = bound
	o := c.timeouts
	if c.hist.n > 0 && p99/1000 > bound {
		s := c.slowest
		o.add("", "", s.T, "/tasks p99 %.3fs > connect_timeout + 0.5s + ε = %.3fs while NATS healthy; slowest call %.3fs by %s at %.3fs",
			p99/1000, bound, s.MS/1000, s.Worker, callStart(&s))
	}
	return c.result(&o, figs, fmt.Sprintf("%d /tasks calls, %d timed out; p99 %.3fs while healthy (bound %.3fs)",
		c.calls, c.timeouts.n, p99/1000, bound))
}
