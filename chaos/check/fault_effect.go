package check

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// FaultEffect is the fault-effect assumption of a run: every fault acted on
// something, so that a pass says something about the fault. A run whose
// fault acted on nothing proves nothing about it: its result is unknown
// then, and the run INCONCLUSIVE ([Results.Inconclusive]). It is not a
// checker of [All]: it never fails, as an idle fault is a fact about the
// run, not about the system; [Run] runs it beside the checkers.
//
// The effect each fault must have had, by what it does (the effects its
// start event records), read from the events of its window (from its start
// to its end; for a worker that dies or a job cancelled, to the end of the
// run):
//
//   - a fault on api-nats or results-nats: a connection on that link (conn
//     events) was open during the window, or work that needs the link was
//     asked for during it (a /tasks call started, for api-nats; a result
//     posted, for results-nats) — the link was used while the fault was on;
//   - a fault on worker-api: an API call of a worker during the window;
//   - a worker dies (worker_crash): a delivery handed out after the fault's
//     start never got a result (the crashed worker held tasks);
//   - the result processor dies (processor_crash): a result posted during
//     the window was answered 200 but its delivery was never acked (a
//     result dropped between save and ack);
//   - the job is cancelled (cancel_job): the run's job became CANCELING or
//     REVOKED (the event comes before the fault's start, which is written
//     once the fault is in);
//   - a job is created (create_job): the API was asked to create it (a
//     contract event create-job, also before the fault's start), whatever
//     it answered: the contract check judges the answer.
//
// Other faults (NATS restarts and pauses, API restarts, faults on cluster
// routes) are not judged: a restart always acts. Nothing to judge when the run had no judged fault.
type FaultEffect struct {
	base
	open    []effectWindow
	conns   map[connKey]float64 // open connections → when they opened
	handed  map[string]float64  // reply → handout time, for replies handed out after a worker_crash started
	results map[string]float64  // reply → time of a 200 result, for results inside a processor_crash window
	acked   map[string]bool     // replies acked
	crashes []int               // indexes of worker_crash windows
	procs   []int               // indexes of processor_crash windows
	// cancelled: the run's job became CANCELING or REVOKED (a fault's
	// start event is written once it is injected: a cancel comes before
	// it). creates counts the creates asked of the API (create_job).
	cancelled bool
	creates   int
	lastT     float64
}

type effectWindow struct {
	window
	acted bool
	why   string // what it acted on
}

// actsAfter are the effects that show after their fault's window: a dead
// worker's tasks never come back, a cancelled or created job's events.
const actsAfter = history.EffectWorkerDies | history.EffectJobCancelled | history.EffectJobCreated

// NewFaultEffect returns the fault-effect checker.
func NewFaultEffect(p Params) *FaultEffect {
	return &FaultEffect{base: newBase("fault-effect", p), conns: map[connKey]float64{}, handed: map[string]float64{},
		results: map[string]float64{}, acked: map[string]bool{}}
}

// judged reports whether the check knows what effect a fault must have: a
// worker or the processor dies, the job is cancelled, or the fault acts on
// a link whose traffic the history shows.
func judged(fx history.Effects, link string) bool {
	if fx&(actsAfter|history.EffectProcessorDies) != 0 {
		return true
	}
	return link == protocol.LinkAPINATS || link == protocol.LinkResultsNATS || link == protocol.LinkWorkerAPI
}

// onLinkTraffic reports whether w acts on the traffic of link (a cancelled
// job acts on none).
func (w *effectWindow) onLinkTraffic(link string) bool {
	return w.link == link && !w.effects.Has(history.EffectJobCancelled)
}

func (c *FaultEffect) active(i int, t float64) bool {
	w := c.open[i]
	return t >= w.start && t <= w.end
}

// acts marks every active window on link (or of fault name) as having acted.
func (c *FaultEffect) acts(t float64, match func(w *effectWindow) bool, why string) {
	for i := range c.open {
		w := &c.open[i]
		if !w.acted && c.active(i, t) && match(w) {
			w.acted, w.why = true, why
		}
	}
}

// Observe feeds the next event of the history.
func (c *FaultEffect) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	c.lastT = math.Max(c.lastT, e.T)
	onLink := func(link string) func(*effectWindow) bool {
		return func(w *effectWindow) bool { return w.onLinkTraffic(link) }
	}
	switch e.Kind {
	case history.KindFault:
		c.fault(e)
	case history.KindConn:
		k := connKey{e.Link, e.ConnID}
		switch e.Phase {
		case history.ConnOpen:
			c.conns[k] = e.T
			c.acts(e.T, onLink(e.Link), "a connection opened")
		case history.ConnClose:
			opened, ok := c.conns[k]
			if !ok {
				opened = e.T
			}
			delete(c.conns, k)
			// Open during the window: opened before its end, closed after its start.
			for i := range c.open {
				w := &c.open[i]
				if !w.acted && w.onLinkTraffic(e.Link) && opened <= w.end && e.T >= w.start {
					w.acted, w.why = true, "a connection was open"
				}
			}
		}
	case history.KindHTTP:
		if e.Worker == history.ProbeWorker {
			return
		}
		c.acts(callStart(e), onLink(protocol.LinkWorkerAPI), "a worker called the API")
		c.acts(e.T, onLink(protocol.LinkWorkerAPI), "a worker called the API")
		if e.IsTasksCall() {
			c.acts(callStart(e), onLink(protocol.LinkAPINATS), "a /tasks call")
		}
	case history.KindHandout:
		for _, i := range c.crashes {
			if e.T >= c.open[i].start && e.Reply != "" {
				c.handed[e.Reply] = e.T
				break
			}
		}
	case history.KindResult:
		if e.Status == 200 {
			c.acts(e.T, onLink(protocol.LinkResultsNATS), "a result was posted")
			for _, i := range c.procs {
				if c.active(i, e.T) && e.Reply != "" {
					c.results[e.Reply] = e.T
					break
				}
			}
		}
		delete(c.handed, e.Reply)
	case history.KindAck:
		c.acked[e.Reply] = true
		delete(c.results, e.Reply)
	case history.KindJob:
		run, ok := protocol.JobOfStream(c.cfg.Stream)
		if protocol.Cancelled(e.JobStatus) && (!ok || e.Job == run) {
			c.cancelled = true
		}
	case history.KindContract:
		if e.Name == history.ContractCreateJob {
			c.creates++
		}
	}
}

func (c *FaultEffect) fault(e *history.Event) {
	switch e.Phase {
	case "start":
		fx := effectsOf(e)
		if !judged(fx, e.Link) {
			return
		}
		c.open = append(c.open, effectWindow{window: window{id: e.ID, name: e.Name, link: e.Link, effects: fx, start: e.T, end: math.Inf(1)}})
		i := len(c.open) - 1
		if fx.Has(history.EffectWorkerDies) {
			c.crashes = append(c.crashes, i)
		}
		if fx.Has(history.EffectProcessorDies) {
			c.procs = append(c.procs, i)
		}
		// Connections open when the fault starts are under it.
		for k := range c.conns {
			if c.open[i].onLinkTraffic(k.link) {
				c.open[i].acted, c.open[i].why = true, "a connection was open"
				break
			}
		}
	case "end":
		for i := range c.open {
			w := &c.open[i]
			if w.id == e.ID && math.IsInf(w.end, 1) {
				// Keep the window of an effect that shows after it
				// open to the run's end.
				if w.effects&actsAfter == 0 {
					w.end = e.T
				}
				return
			}
		}
	}
}

// Result is the verdict: passed (every judged fault acted, or none to
// judge) or unknown (Why names the faults that acted on nothing).
func (c *FaultEffect) Result() Result {
	// worker_crash: a delivery handed out after its start never got a result.
	if len(c.handed) > 0 {
		for _, i := range c.crashes {
			for _, t := range c.handed {
				if t >= c.open[i].start && !c.open[i].acted {
					c.open[i].acted, c.open[i].why = true, fmt.Sprintf("%d deliveries handed out after it never got a result", len(c.handed))
				}
			}
		}
	}
	// processor_crash: a result answered 200 whose delivery was never acked.
	for _, i := range c.procs {
		for r := range c.results {
			if t := c.results[r]; c.active(i, t) && !c.acked[r] {
				c.open[i].acted, c.open[i].why = true, "a result was stored and never acked"
				break
			}
		}
	}
	creates := c.creates
	for i := range c.open {
		w := &c.open[i]
		if w.effects.Has(history.EffectJobCancelled) && c.cancelled {
			w.acted, w.why = true, "the job was cancelled"
		}
		if w.effects.Has(history.EffectJobCreated) && creates > 0 {
			creates--
			w.acted, w.why = true, "the API was asked to create a job"
		}
	}
	figs := map[string]float64{"faults_judged": float64(len(c.open))}
	if len(c.open) == 0 {
		return c.nothing("no fault whose effect is known", figs)
	}
	var idle []string
	for _, w := range c.open {
		if !w.acted {
			idle = append(idle, fmt.Sprintf("%s (%s%s at %.3fs)", w.id, w.name, onLinkText(w.link), w.start))
		}
	}
	slices.Sort(idle)
	figs["faults_without_effect"] = float64(len(idle))
	if len(idle) > 0 {
		return c.unknown("faults that acted on nothing: "+strings.Join(idle, ", "), figs)
	}
	var o offenses
	return c.result(&o, figs, fmt.Sprintf("%d faults, each acted on something", len(c.open)))
}

func onLinkText(link string) string {
	if link == "" {
		return ""
	}
	return " on " + link
}
