package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
)

// Duplicates is the duplicates check. Figures: redundant handouts
// (handouts − 1 per task) and tasks processed more than once (results for
// more than one delivery). Fails if the same reply subject is handed out
// twice, or if Params.ExpectDuplicates is set and more tasks than that
// were processed more than once.
type Duplicates struct {
	base
	tasks     map[string]*dupTask
	replies   map[string]struct{}
	handouts  int
	redundant int
	extra     int // results for a second, third ... delivery
	twice     int // tasks processed more than once
	results   int
	sameReply offenses
	processed offenses
}

type dupTask struct {
	handouts    int
	resultReply string
	dup         bool
}

// NewDuplicates returns the duplicates checker.
func NewDuplicates(p Params) *Duplicates {
	return bind(&Duplicates{base: newBase("duplicates", p), tasks: map[string]*dupTask{}, replies: map[string]struct{}{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Duplicates) observe(e *history.Event) {
	switch e.Kind {
	case history.KindHandout:
		c.handouts++
		if e.Reply != "" {
			if _, ok := c.replies[e.Reply]; ok {
				c.sameReply.add(e.Task, e.Reply, e.T, "reply subject handed out twice (dc=%d, worker %s)", e.DC, e.Worker)
			} else {
				c.replies[e.Reply] = struct{}{}
			}
		}
		if e.Task == "" {
			return
		}
		t := entry(c.tasks, e.Task)
		t.handouts++
		if t.handouts > 1 {
			c.redundant++
		}
	case history.KindResult:
		if e.Task == "" || e.Reply == "" {
			return
		}
		c.results++
		t := entry(c.tasks, e.Task)
		switch {
		case t.resultReply == "":
			t.resultReply = e.Reply
		case t.resultReply != e.Reply:
			c.extra++
			if !t.dup {
				t.dup = true
				c.twice++
				if c.p.ExpectDuplicates != nil && c.twice > *c.p.ExpectDuplicates {
					c.processed.add(e.Task, e.Reply, e.T, "processed again: result for a second delivery (first %s)", t.resultReply)
				}
			}
		}
	}
}

// Result implements [Checker].
func (c *Duplicates) Result() Result {
	figs := map[string]float64{
		"handouts": float64(c.handouts), "redundant_handouts": float64(c.redundant),
		"duplicate_results": float64(c.extra), "duplicates": float64(c.twice),
		"same_reply_handouts": float64(c.sameReply.n),
	}
	if c.handouts == 0 && c.results == 0 {
		return c.unknown("no handout or result event", figs)
	}
	o := offenses{n: c.sameReply.n + c.processed.n}
	o.list = append(append(o.list, c.sameReply.list...), c.processed.list...)
	o.list = o.list[:min(len(o.list), MaxOffenses)]
	limit := "not limited"
	if c.p.ExpectDuplicates != nil {
		limit = fmt.Sprintf("expected ≤ %d", *c.p.ExpectDuplicates)
	}
	return c.result(&o, figs, fmt.Sprintf("%d handouts (%d redundant, %d of a reply already handed out); %d tasks processed more than once (%s)",
		c.handouts, c.redundant, c.sameReply.n, c.twice, limit))
}
