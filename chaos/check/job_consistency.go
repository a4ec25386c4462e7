package check

import (
	"fmt"
	"sort"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// JobConsistency is the job-consistency check: the job the API reports
// agrees with the tasks actually stored.
//
//   - A job event SUCCESS comes only when every published task of the job
//     (and at least the job's total, when the event carries its progress)
//     is stored or dead-lettered (a max_deliveries advisory of the run's
//     own consumer, matched on stream sequence).
//   - The progress a job event reports (its stored/total, from the API's
//     GET /jobs/{id}/) never runs ahead of the distinct tasks stored so far.
//   - A task's result is stored once: a second stored event for the same
//     task is a "mark stored" that is not idempotent.
//
// Nothing to judge when no job event says SUCCESS or carries progress and
// no task was stored twice; unknown when a SUCCESS must be judged but no
// task was published (the job's tasks are unknown).
type JobConsistency struct {
	base
	published  map[string]bool
	stored     map[string]int
	dead       map[string]bool
	bySSeq     map[uint64]string
	deadSSeq   map[uint64]bool
	successes  int
	progresses int
	noPublish  bool // a SUCCESS came before any publish
	o          offenses
}

// NewJobConsistency returns the job-consistency checker.
func NewJobConsistency(p Params) *JobConsistency {
	return bind(&JobConsistency{base: newBase("job-consistency", p), published: map[string]bool{}, stored: map[string]int{},
		dead: map[string]bool{}, bySSeq: map[uint64]string{}, deadSSeq: map[uint64]bool{}})
}

func (c *JobConsistency) learn(task string, sseq uint64) {
	if task == "" || sseq == 0 {
		return
	}
	c.bySSeq[sseq] = task
	if c.deadSSeq[sseq] {
		c.dead[task] = true
		delete(c.deadSSeq, sseq)
	}
}

// observe judges one event; [base.Observe] has taken the config.
func (c *JobConsistency) observe(e *history.Event) {
	switch e.Kind {
	case history.KindPublish:
		if e.Task != "" {
			c.published[e.Task] = true
			c.learn(e.Task, e.SSeq)
		}
	case history.KindReserve, history.KindHandout:
		c.learn(e.Task, sseqOf(e))
	case history.KindAdvisory:
		if e.Type != "max_deliveries" || !c.own(e) {
			return
		}
		if task, ok := c.bySSeq[e.SSeq]; ok {
			c.dead[task] = true
		} else {
			c.deadSSeq[e.SSeq] = true
		}
	case history.KindStored:
		if e.Task == "" {
			return
		}
		c.stored[e.Task]++
		if n := c.stored[e.Task]; n > 1 {
			c.o.add(e.Task, "", e.T, "stored %d times: marking a result stored is not idempotent", n)
		}
	case history.KindJob:
		c.job(e)
	}
}

func (c *JobConsistency) job(e *history.Event) {
	if e.ProgressTotal > 0 {
		c.progresses++
		if e.ProgressStored > len(c.stored) {
			c.o.add("", "", e.T, "job %d reports %d/%d stored (%s) while %d tasks are stored",
				e.Job, e.ProgressStored, e.ProgressTotal, e.JobStatus, len(c.stored))
		}
	}
	if e.JobStatus != protocol.StatusSuccess {
		return
	}
	c.successes++
	if len(c.published) == 0 {
		c.noPublish = true
		return
	}
	var missing []string
	for t := range c.published {
		if c.stored[t] == 0 && !c.dead[t] {
			missing = append(missing, t)
		}
	}
	done := len(c.published) - len(missing)
	if len(missing) > 0 {
		sort.Strings(missing)
		c.o.add(missing[0], "", e.T, "job %d became SUCCESS with %d of %d published tasks neither stored nor dead-lettered (%s)",
			e.Job, len(missing), len(c.published), first(missing, 3))
	} else if e.ProgressTotal > done {
		c.o.add("", "", e.T, "job %d became SUCCESS with %d of its %d tasks stored or dead-lettered", e.Job, done, e.ProgressTotal)
	}
}

// first lists up to n of xs, with how many more.
func first(xs []string, n int) string {
	if len(xs) <= n {
		return fmt.Sprint(xs)
	}
	return fmt.Sprintf("%v and %d more", xs[:n], len(xs)-n)
}

// Result implements [Checker].
func (c *JobConsistency) Result() Result {
	twice := 0
	for _, n := range c.stored {
		if n > 1 {
			twice++
		}
	}
	figs := map[string]float64{
		"published": float64(len(c.published)), "stored": float64(len(c.stored)), "stored_twice": float64(twice),
		"successes": float64(c.successes), "progress_reports": float64(c.progresses),
	}
	switch {
	case c.o.n == 0 && c.noPublish:
		return c.unknown("the job became SUCCESS but no task was published: its tasks are unknown", figs)
	case c.o.n == 0 && c.successes == 0 && c.progresses == 0:
		return c.nothing("no job event said SUCCESS or reported progress", figs)
	}
	summary := fmt.Sprintf("%d SUCCESS, %d progress reports, %d tasks stored (%d twice)", c.successes, c.progresses, len(c.stored), twice)
	return c.result(&c.o, figs, summary)
}
