package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// NoLoss is the no-loss check: after the drain phase, every published task
// is stored or dead-lettered (max_deliveries advisory). lost =
// published − stored − dead_lettered − in_flight, split as Jepsen does by
// when the task was published: before the first stored task, between, or
// after the last. Results or stored tasks never published are "unexpected"
// and fail too. The tasks of a job that was cancelled (CANCELING, REVOKED)
// and never stored are "revoked": dropped on purpose with their job,
// accounted, not lost (the terminal-guard check judges that none was served
// after).
//
// A dead-letter advisory accounts for a task when it names the run's stream
// and consumer (an advisory that names neither, from an older history, is
// matched on its sseq alone) and its sseq is the task's: from the publish
// event, or, where publishes carry none (publishes observed on the subject),
// from the task's reserve and handout events, whose reply subject carries it.
//
// In flight is not lost. Let T be the time of the history's last event, and
// for a task neither stored nor dead-lettered let k be the delivery count of
// its last observed delivery and x the time of that delivery or of its
// latest in-progress ack. NATS may still finish the task — a worker still
// holds delivery k, or NATS will deliver it again (up to M − k more times,
// each after an ack_wait), or will dead-letter it — until x + (M − k + 1)·A.
// So the task is in flight when delivery k was not acked (ack or term) and
//
//	T < x + (M − k + 1)·A + ε     (always, when M is unlimited),
//
// and a task never delivered is in flight when the history has no end phase
// (the run was cut short while it waited its turn). Any other task is lost.
// A history with lost tasks fails; one with no lost task but tasks in
// flight is unknown: the drain was cut short, nothing can be said yet.
type NoLoss struct {
	base
	cancelled  bool
	tasks      map[string]*fate
	bySSeq     map[uint64]string // sseq → task, for advisories and acks
	deadSSeq   map[uint64]bool   // max_deliveries advisories seen before their task's sseq
	drained    bool
	ended      bool
	last       float64 // time of the last event
	firstStore float64
	lastStore  float64
	unexpected offenses
}

type fate struct {
	published, stored, dead bool
	tPub                    float64
	dc                      int     // delivery count of the last observed delivery; 0 = never delivered
	tLast                   float64 // its time, or that of its latest in-progress ack
	acked                   bool    // the last delivery was acked or terminated
}

// NewNoLoss returns the no-loss checker.
func NewNoLoss(p Params) *NoLoss {
	return bind(&NoLoss{base: newBase("no-loss", p), tasks: map[string]*fate{}, bySSeq: map[uint64]string{},
		deadSSeq: map[uint64]bool{}, firstStore: math.Inf(1), lastStore: math.Inf(-1)})
}

// learn records that task has stream sequence sseq, and marks it
// dead-lettered if its advisory came first.
func (c *NoLoss) learn(task string, sseq uint64, f *fate) {
	if sseq == 0 {
		return
	}
	c.bySSeq[sseq] = task
	if c.deadSSeq[sseq] {
		f.dead = true
		delete(c.deadSSeq, sseq)
	}
}

// observe judges one event; [base.Observe] has taken the config.
func (c *NoLoss) observe(e *history.Event) {
	c.last = max(c.last, e.T)
	switch e.Kind {
	case history.KindPhase:
		switch e.Name {
		case history.PhaseDrain:
			c.drained = true
		case history.PhaseEnd:
			c.drained, c.ended = true, true
		}
	case history.KindPublish:
		if e.Task == "" {
			return
		}
		f := entry(c.tasks, e.Task)
		if !f.published {
			f.published, f.tPub = true, e.T
		}
		c.learn(e.Task, e.SSeq, f)
	case history.KindReserve, history.KindHandout:
		if e.Task == "" {
			return
		}
		f := entry(c.tasks, e.Task)
		c.learn(e.Task, sseqOf(e), f)
		if e.DC > f.dc || e.DC == 0 && f.dc == 0 {
			f.dc, f.tLast, f.acked = max(e.DC, 1), e.T, false
		}
	case history.KindAck:
		task := e.Task
		if task == "" {
			task = c.bySSeq[sseqOf(e)]
		}
		f := c.tasks[task]
		if f == nil || e.DC != 0 && e.DC != f.dc {
			return // unknown, or the ack of an earlier delivery
		}
		switch e.Ack {
		case "wpi":
			f.tLast = max(f.tLast, e.T)
		case "ack", "term":
			f.acked = true
		}
	case history.KindStored:
		if e.Task == "" {
			return
		}
		f := entry(c.tasks, e.Task)
		if !f.stored {
			f.stored = true
			c.firstStore = min(c.firstStore, e.T)
			c.lastStore = max(c.lastStore, e.T)
		}
		if !f.published {
			c.unexpected.add(e.Task, "", e.T, "stored but never published")
		}
	case history.KindResult:
		if e.Task == "" {
			return
		}
		if f := c.tasks[e.Task]; f == nil || !f.published {
			c.unexpected.add(e.Task, e.Reply, e.T, "result for a task never published")
		}
	case history.KindJob:
		if protocol.Cancelled(e.JobStatus) {
			c.cancelled = true
		}
	case history.KindAdvisory:
		if e.Type != "max_deliveries" || !c.own(e) {
			return
		}
		if task, ok := c.bySSeq[e.SSeq]; ok {
			entry(c.tasks, task).dead = true
		} else {
			c.deadSSeq[e.SSeq] = true
		}
	}
}

// inFlight reports whether NATS may still deliver, finish or dead-letter
// the task at the history's end, and until when (+Inf: no bound).
func (c *NoLoss) inFlight(f *fate) (bool, float64) {
	if f.dc == 0 {
		return !c.ended, math.Inf(1)
	}
	if f.acked {
		return false, 0
	}
	if c.m <= 0 {
		return true, math.Inf(1)
	}
	until := f.tLast + float64(c.m-f.dc+1)*c.a + c.eps
	return c.last < until, until
}

// Result implements [Checker].
func (c *NoLoss) Result() Result {
	var published, stored, dead, revoked, before, between, after, inFlight int
	var lost []Offense
	var example string
	for task, f := range c.tasks {
		if !f.published {
			continue
		}
		published++
		switch {
		case f.stored:
			stored++
		case f.dead:
			dead++
		case c.cancelled:
			revoked++
		default:
			if ok, until := c.inFlight(f); ok {
				inFlight++
				if example == "" || task < example {
					example = task
					if f.dc == 0 {
						example += " (never delivered)"
					} else if !math.IsInf(until, 1) {
						example += fmt.Sprintf(" (delivery %d at %.3fs, decided by %.3fs)", f.dc, f.tLast, until)
					}
				}
				continue
			}
			when := "between the first and the last stored task"
			switch {
			case f.tPub < c.firstStore:
				before++
				when = "before the first stored task"
			case f.tPub > c.lastStore:
				after++
				when = "after the last stored task"
			default:
				between++
			}
			lost = append(lost, Offense{Task: task, T: f.tPub, Detail: "never stored nor dead-lettered (published " + when + ")"})
		}
	}
	figs := map[string]float64{
		"published": float64(published), "stored": float64(stored), "dead_lettered": float64(dead),
		"lost": float64(len(lost)), "lost_before": float64(before), "lost_between": float64(between),
		"lost_after": float64(after), "unexpected": float64(c.unexpected.n), "revoked": float64(revoked),
		"in_flight": float64(inFlight),
	}
	if published == 0 {
		return c.unknown("no publish event", figs)
	}
	if !c.drained {
		return c.unknown("the run never reached the drain phase: tasks may still be in flight", figs)
	}
	if len(lost) == 0 && c.unexpected.n == 0 && inFlight > 0 {
		return c.unknown(fmt.Sprintf("%d tasks still in flight at the end of the history (t=%.3fs), e.g. %s: the drain was cut short",
			inFlight, c.last, example), figs)
	}
	sortOffenses(lost)
	o := offenses{n: len(lost) + c.unexpected.n}
	o.list = append(append(o.list, lost[:min(len(lost), MaxOffenses)]...), c.unexpected.list...)
	if len(o.list) > MaxOffenses {
		o.list = o.list[:MaxOffenses]
	}
	summary := fmt.Sprintf("%d published, %d stored, %d dead-lettered, %d lost (%d before / %d between / %d after), %d unexpected, %d in flight",
		published, stored, dead, len(lost), before, between, after, c.unexpected.n, inFlight)
	if c.cancelled {
		summary += fmt.Sprintf("; the job was cancelled: %d revoked with it", revoked)
	}
	return c.result(&o, figs, summary)
}
