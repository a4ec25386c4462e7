package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
)

// MaxDeliver is the max-deliver check: no delivery has dc > M, and a final
// delivery (dc = M) that went un-acked past A + ε is followed by a
// max_deliveries advisory for its sseq before any /tasks call that started
// after that returns. (NATS sends the advisory only on the next delivery
// attempt after the last ack_wait expires, when a pull request waits.)
// Advisories are matched on (stream, consumer, sseq): another stream's or
// consumer's advisory never answers for a delivery of the run; a delivery's
// sseq is its event's, else its reply subject's.
type MaxDeliver struct {
	base
	deliveries int
	reserves   bool
	maxDC      int
	finals     int
	over       map[string]bool // replies already counted as dc > M
	pending    map[uint64]*finalDelivery
	queue      deadlines[uint64]
	o          offenses
}

type finalDelivery struct {
	task, reply string
	t, deadline float64
}

// NewMaxDeliver returns the max-deliver checker.
func NewMaxDeliver(p Params) *MaxDeliver {
	return bind(&MaxDeliver{base: newBase("max-deliver", p), over: map[string]bool{}, pending: map[uint64]*finalDelivery{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *MaxDeliver) observe(e *history.Event) {
	if !c.hasCfg || c.m <= 0 {
		return
	}
	switch e.Kind {
	case history.KindReserve, history.KindHandout:
		c.maxDC = max(c.maxDC, e.DC)
		if e.Kind == history.KindReserve {
			c.reserves = true
		}
		if e.Kind == history.KindReserve || !c.reserves {
			c.deliveries++ // a delivery is its reserve where the API is instrumented
		}
		switch {
		case e.DC > c.m:
			if !c.over[e.Reply] {
				c.over[e.Reply] = true
				c.o.add(e.Task, e.Reply, e.T, "delivery %d > max_deliver %d (%s)", e.DC, c.m, e.Kind)
			}
		case e.DC == c.m && sseqOf(e) != 0:
			sseq := sseqOf(e)
			if f, ok := c.pending[sseq]; ok && f.reply == e.Reply {
				return // the handout of a reserve already seen
			}
			c.finals++
			f := &finalDelivery{task: e.Task, reply: e.Reply, t: e.T, deadline: e.T + c.a + c.eps}
			c.pending[sseq] = f
			c.queue.push(f.deadline, sseq)
		}
	case history.KindAck:
		sseq := sseqOf(e)
		f, ok := c.pending[sseq]
		if !ok || (e.Reply != "" && e.Reply != f.reply) {
			return
		}
		switch e.Ack {
		case "wpi":
			f.deadline = e.T + c.a + c.eps
			c.queue.push(f.deadline, sseq)
		case "nak":
			f.deadline = e.T + c.eps
			c.queue.push(f.deadline, sseq)
		default:
			delete(c.pending, sseq)
		}
	case history.KindAdvisory:
		if e.Type == "max_deliveries" && c.own(e) {
			delete(c.pending, e.SSeq)
		}
	case history.KindHTTP:
		if !e.IsTasksCall() || e.Status != 200 {
			return
		}
		start := callStart(e)
		for {
			x, ok := c.queue.popBefore(start)
			if !ok {
				break
			}
			f := c.pending[x.key]
			if f == nil || f.deadline != x.at {
				continue // acked, advised, or extended since
			}
			delete(c.pending, x.key)
			c.o.add(f.task, f.reply, e.T, "final delivery (dc=%d at %.3fs) un-acked past A+ε=%.3fs; /tasks call %.3fs–%.3fs returned without a max_deliveries advisory for sseq %d",
				c.m, f.t, f.deadline, start, e.T, x.key)
		}
	}
}

// Result implements [Checker].
func (c *MaxDeliver) Result() Result {
	figs := map[string]float64{"max_dc": float64(c.maxDC), "final_deliveries": float64(c.finals)}
	switch {
	case !c.hasCfg:
		return c.unknown(whyNoConfig, figs)
	case c.m <= 0:
		return c.nothing("max_deliver is unlimited", figs)
	case c.deliveries == 0:
		return c.unknown("no reserve or handout event: no delivery observed", figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d deliveries, highest dc %d (max_deliver %d), %d final deliveries, %d violations",
		c.deliveries, c.maxDC, c.m, c.finals, c.o.n))
}
