package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// WorkersSeen is the workers-seen check (worker tracking): the API marks a
// worker seen (a seen event) on every /tasks and /result call that reached
// its job — the platform marks a pipeline's processing services as seen
// there — so a polling worker is seen at least once per poll. Every /tasks
// or /result call that the API answered 200 or 503 must have a seen event
// of its worker between the call's start and its end plus ε; a worker
// polling through NATS trouble (503s) must still be seen. Calls with no
// answer (dropped, timed out) or another status, and calls during an
// http_status or http_abort fault (the proxy may have answered in the
// API's place), are not judged. Unknown
// when the history has no seen event at all (an API that does not report
// worker tracking, e.g. in external mode).
type WorkersSeen struct {
	faulted                    // windows: injected answers, the API never saw those calls
	last    map[string]float64 // worker → its latest seen event
	seen    int
	judged  int
	workers map[string]bool
	o       offenses
}

// NewWorkersSeen returns the workers-seen checker.
func NewWorkersSeen(p Params) *WorkersSeen {
	return bind(&WorkersSeen{faulted: newFaulted("workers-seen", p, injectedAnswer), last: map[string]float64{}, workers: map[string]bool{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *WorkersSeen) observe(e *history.Event) {
	switch e.Kind {
	case history.KindSeen:
		c.seen++
		c.last[e.Worker] = max(c.last[e.Worker], e.T)
	case history.KindHTTP:
		if e.Worker == "" || e.Worker == history.ProbeWorker || (e.Status != 200 && e.Status != 503) ||
			(!protocol.IsTasksPath(e.Path) && !protocol.IsResultPath(e.Path)) {
			return
		}
		start := callStart(e)
		if c.faults.overlaps(start, e.T) {
			return // the proxy may have answered in the API's place
		}
		c.judged++
		c.workers[e.Worker] = true
		if t, ok := c.last[e.Worker]; !ok || t < start-c.eps || t > e.T+c.eps {
			c.o.add("", "", e.T, "%s %s answered %d at %.3fs (called at %.3fs) without marking %s seen",
				e.Worker, e.Path, e.Status, e.T, start, e.Worker)
		}
	}
}

// Result implements [Checker].
func (c *WorkersSeen) Result() Result {
	figs := map[string]float64{"seen_events": float64(c.seen), "calls_judged": float64(c.judged), "workers": float64(len(c.workers))}
	switch {
	case c.seen == 0:
		return c.unknown("no seen event: the API does not report worker tracking", figs)
	case c.judged == 0:
		return c.nothing("no /tasks or /result call answered 200 or 503", figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d /tasks and /result calls of %d workers judged: %d without their worker marked seen",
		c.judged, len(c.workers), c.o.n))
}

// injectedAnswer matches the faults whose answers do not come from the API
// as it gave them (http_status, http_abort).
func injectedAnswer(w window) bool { return w.effects.Has(history.EffectAnswerInjected) }
