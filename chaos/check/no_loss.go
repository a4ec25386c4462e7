package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/chaos/history"
)

// NoLoss is the no-loss check: after the drain phase, every published task
// is stored or dead-lettered (max_deliveries advisory). lost =
// published − stored − dead_lettered, split as Jepsen does by when the task
// was published: before the first stored task, between, or after the last.
// Results or stored tasks never published are "unexpected" and fail too.
// The tasks of a job that was cancelled (CANCELING, REVOKED) and never
// stored are "revoked": dropped on purpose with their job, accounted, not
// lost (the terminal-guard check judges that none was served after).
type NoLoss struct {
	base
	cancelled  bool
	tasks      map[string]*fate
	bySSeq     map[uint64]string // sseq → task, for advisories
	deadSSeq   map[uint64]bool   // max_deliveries advisories seen before their publish
	drained    bool
	firstStore float64
	lastStore  float64
	unexpected offenses
}

type fate struct {
	published, stored, dead bool
	tPub                    float64
}

// NewNoLoss returns the no-loss checker.
func NewNoLoss(p Params) *NoLoss {
	return &NoLoss{base: newBase(p), tasks: map[string]*fate{}, bySSeq: map[uint64]string{},
		deadSSeq: map[uint64]bool{}, firstStore: math.Inf(1), lastStore: math.Inf(-1)}
}

// Name implements [Checker].
func (*NoLoss) Name() string { return "no-loss" }

func (c *NoLoss) fate(task string) *fate {
	f := c.tasks[task]
	if f == nil {
		f = &fate{}
		c.tasks[task] = f
	}
	return f
}

// Observe implements [Checker].
func (c *NoLoss) Observe(e *history.Event) {
	switch e.Kind {
	case history.KindConfig:
		c.config(e)
	case history.KindPhase:
		if e.Name == history.PhaseDrain || e.Name == history.PhaseEnd {
			c.drained = true
		}
	case history.KindPublish:
		if e.Task == "" {
			return
		}
		f := c.fate(e.Task)
		if !f.published {
			f.published, f.tPub = true, e.T
		}
		if e.SSeq != 0 {
			c.bySSeq[e.SSeq] = e.Task
			if c.deadSSeq[e.SSeq] {
				f.dead = true
				delete(c.deadSSeq, e.SSeq)
			}
		}
	case history.KindStored:
		if e.Task == "" {
			return
		}
		f := c.fate(e.Task)
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
		if e.JobStatus == "CANCELING" || e.JobStatus == "REVOKED" {
			c.cancelled = true
		}
	case history.KindAdvisory:
		if e.Type != "max_deliveries" {
			return
		}
		if task, ok := c.bySSeq[e.SSeq]; ok {
			c.fate(task).dead = true
		} else {
			c.deadSSeq[e.SSeq] = true
		}
	}
}

// Result implements [Checker].
func (c *NoLoss) Result() Result {
	const name = "no-loss"
	var published, stored, dead, revoked, before, between, after int
	var lost []Offense
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
	}
	if published == 0 {
		return unknown(name, "no publish event", figs)
	}
	if !c.drained {
		return unknown(name, "the run never reached the drain phase: tasks may still be in flight", figs)
	}
	sortOffenses(lost)
	o := offenses{n: len(lost) + c.unexpected.n}
	o.list = append(append(o.list, lost[:min(len(lost), MaxOffenses)]...), c.unexpected.list...)
	if len(o.list) > MaxOffenses {
		o.list = o.list[:MaxOffenses]
	}
	summary := fmt.Sprintf("%d published, %d stored, %d dead-lettered, %d lost (%d before / %d between / %d after), %d unexpected",
		published, stored, dead, len(lost), before, between, after, c.unexpected.n)
	if c.cancelled {
		summary += fmt.Sprintf("; the job was cancelled: %d revoked with it", revoked)
	}
	return result(name, &o, figs, summary)
}
