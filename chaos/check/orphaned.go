package check

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/natschaos/natschaos/history"
)

// Orphaned is the orphaned check: deliveries NATS made that no worker
// received. Where reserve events exist, an orphan is a reserve with no
// handout of the same reply. Otherwise it is inferred: a task handed out
// with dc = k+1 but never with dc = k, and consumer sequences
// (consumer.delivered) that no handout carries; the larger of the two
// counts is taken (every dc gap also leaves a consumer sequence uncarried).
// Each orphan's cost is the time until its task was next handed out (≈ A).
// Fails when the count exceeds Params.ExpectOrphaned.
type Orphaned struct {
	base
	last     float64
	reserves bool
	handouts int

	// with reserve events
	byTask map[string]*reserved
	open   map[string]float64 // task → time of its orphaned reserve, until its next handout

	// inferred
	seen      map[string]*handedOut
	dseqs     map[uint64]uint64 // sparse bitset of consumer sequences handed out: word index → 64 bits; memory grows with the handouts, never with a sequence's size
	delivered uint64            // highest consumer.delivered sampled
	gaps      int

	orphans  int
	cost     float64
	maxCost  float64
	measured int
	o        offenses
}

type reserved struct {
	reply  string
	t      float64
	dc     int
	handed bool
}

type handedOut struct {
	dc int
	t  float64 // last handout, or publish
}

// NewOrphaned returns the orphaned checker.
func NewOrphaned(p Params) *Orphaned {
	return bind(&Orphaned{base: newBase("orphaned", p), byTask: map[string]*reserved{}, open: map[string]float64{}, seen: map[string]*handedOut{}})
}

func (c *Orphaned) orphan(task, reply string, t float64, format string, a ...any) {
	c.orphans++
	c.o.add(task, reply, t, format, a...)
}

func (c *Orphaned) costOf(d float64) {
	c.cost += d
	c.maxCost = max(c.maxCost, d)
	c.measured++
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Orphaned) observe(e *history.Event) {
	c.last = max(c.last, e.T)
	switch e.Kind {
	case history.KindPublish:
		if !c.reserves && e.Task != "" {
			if _, ok := c.seen[e.Task]; !ok {
				c.seen[e.Task] = &handedOut{t: e.T}
			}
		}
	case history.KindReserve:
		if e.Task == "" {
			return
		}
		if !c.reserves {
			c.reserves = true
			c.seen, c.dseqs = nil, nil // instrumented: no inference needed
		}
		r := c.byTask[e.Task]
		if r != nil && r.reply == e.Reply {
			return
		}
		if r != nil && !r.handed {
			c.orphan(e.Task, r.reply, r.t, "reserved (dc=%d) at %.3fs, never handed out; redelivered at %.3fs", r.dc, r.t, e.T)
			if _, ok := c.open[e.Task]; !ok {
				c.open[e.Task] = r.t
			}
		}
		if r == nil {
			r = &reserved{}
			c.byTask[e.Task] = r
		}
		*r = reserved{reply: e.Reply, t: e.T, dc: e.DC}
	case history.KindHandout:
		c.handouts++
		if c.reserves {
			if r := c.byTask[e.Task]; r != nil && r.reply == e.Reply {
				r.handed = true
			}
			if t0, ok := c.open[e.Task]; ok {
				c.costOf(e.T - t0)
				delete(c.open, e.Task)
			}
			return
		}
		c.infer(e)
	case history.KindConsumer:
		c.delivered = max(c.delivered, e.Delivered)
	case history.KindStored:
		if r := c.byTask[e.Task]; r != nil && r.handed {
			delete(c.byTask, e.Task)
		}
	}
}

// infer finds orphans without reserve events: gaps in a task's delivery counts.
func (c *Orphaned) infer(e *history.Event) {
	if e.DSeq > 0 {
		if c.dseqs == nil {
			c.dseqs = map[uint64]uint64{}
		}
		c.dseqs[e.DSeq/64] |= 1 << (e.DSeq % 64)
	}
	if e.Task == "" || e.DC <= 0 {
		return
	}
	h := c.seen[e.Task]
	if h == nil {
		h = &handedOut{t: e.T}
		c.seen[e.Task] = h
	}
	if missing := e.DC - h.dc - 1; missing > 0 {
		c.gaps += missing
		c.costOf(e.T - h.t)
		c.o.add(e.Task, e.Reply, e.T, "handed out with dc=%d, never with dc=%d: %d orphaned deliveries, next handout %.3fs after the previous sighting at %.3fs",
			e.DC, e.DC-1, missing, e.T-h.t, h.t)
	}
	if e.DC > h.dc {
		h.dc, h.t = e.DC, e.T
	}
}

// uncarried counts consumer sequences 1..delivered that no handout carried.
func (c *Orphaned) uncarried() int {
	var carried uint64
	for i, w := range c.dseqs {
		lo := i * 64
		if lo > c.delivered {
			continue
		}
		if c.delivered-lo < 63 {
			w &= (1 << (c.delivered - lo + 1)) - 1
		}
		carried += uint64(bits.OnesCount64(w)) // dseq 0 is never set: not a delivery
	}
	return int(min(c.delivered-carried, math.MaxInt))
}

// Result implements [Checker].
func (c *Orphaned) Result() Result {
	figs := map[string]float64{}
	how := "reserve without a handout"
	if c.reserves {
		for task, r := range c.byTask {
			if !r.handed {
				c.orphan(task, r.reply, r.t, "reserved (dc=%d) at %.3fs, never handed out, nor redelivered by the end (%.3fs)", r.dc, r.t, c.last)
				c.costOf(c.last - r.t)
			}
		}
		sortOffenses(c.o.list)
	} else {
		if c.handouts == 0 {
			return c.unknown("no reserve or handout event", figs)
		}
		un := 0
		if c.delivered > 0 {
			un = c.uncarried()
			figs["uncarried_consumer_sequences"] = float64(un)
		}
		figs["dc_gaps"] = float64(c.gaps)
		c.orphans = max(c.gaps, un)
		c.o.n = c.orphans
		how = "inferred from handouts: dc gaps and consumer sequences no handout carries"
		if c.delivered == 0 {
			how = "inferred from dc gaps in handouts (no consumer sample)"
		}
	}
	figs["orphaned"] = float64(c.orphans)
	figs["orphan_cost_seconds"] = c.cost
	figs["max_orphan_cost_seconds"] = c.maxCost
	limit := c.p.ExpectOrphaned
	summary := fmt.Sprintf("%d orphaned deliveries (%s), expected ≤ %d; cost %.3fs in all, longest %.3fs", c.orphans, how, limit, c.cost, c.maxCost)
	if c.orphans <= limit {
		return Result{Name: c.Name(), OK: boolp(true), Violations: 0, Summary: summary, Offending: c.o.list, Figures: figs}
	}
	return Result{Name: c.Name(), OK: boolp(false), Violations: c.orphans - limit, Summary: summary, Offending: c.o.list, Figures: figs}
}
