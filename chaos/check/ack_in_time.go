package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
)

// AckInTime is the ack-in-time check: an ack for delivery k published after
// t_k + A − ε (or, after an in-progress ack, t_wpi + A − ε) is late: NATS
// may already have handed the task to another worker. Results posted after
// t_k + A are counted too. Fails if any, unless Params.ExpectLateAcks.
type AckInTime struct {
	base
	byReply     map[string]*inTime
	reserves    bool
	acks        int
	matched     int
	lateAcks    int
	lateResults int
	o           offenses
}

type inTime struct {
	task       string
	t          float64 // delivery time
	deadline   float64 // t + A, moved by in-progress acks
	lateResult bool
}

// NewAckInTime returns the ack-in-time checker.
func NewAckInTime(p Params) *AckInTime {
	return bind(&AckInTime{base: newBase("ack-in-time", p), byReply: map[string]*inTime{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *AckInTime) observe(e *history.Event) {
	if !c.hasCfg {
		return
	}
	switch e.Kind {
	case history.KindReserve, history.KindHandout:
		if e.Kind == history.KindReserve {
			c.reserves = true
		} else if c.reserves {
			return // instrumented: the delivery's time is its reserve
		}
		if e.Reply == "" {
			return
		}
		if _, ok := c.byReply[e.Reply]; !ok {
			c.byReply[e.Reply] = &inTime{task: e.Task, t: e.T, deadline: e.T + c.a}
		}
	case history.KindResult:
		d := c.byReply[e.Reply]
		if d == nil || d.lateResult || e.T <= d.deadline {
			return
		}
		d.lateResult = true
		c.lateResults++
		c.o.add(d.task, e.Reply, e.T, "result posted %.3fs after delivery at %.3fs, past A=%.3fs", e.T-d.t, d.t, c.a)
	case history.KindAck:
		c.acks++
		d := c.byReply[e.Reply]
		if d == nil {
			return
		}
		c.matched++
		if e.Ack != "nak" && e.T > d.deadline-c.eps {
			c.lateAcks++
			c.o.add(d.task, e.Reply, e.T, "late %s %.3fs after delivery at %.3fs: past A − ε = %.3fs", e.Ack, e.T-d.t, d.t, d.deadline-c.eps-d.t)
		}
		if e.Ack == "wpi" {
			d.deadline = e.T + c.a
			return
		}
		delete(c.byReply, e.Reply)
	}
}

// Result implements [Checker].
func (c *AckInTime) Result() Result {
	figs := map[string]float64{"acks": float64(c.acks), "late_acks": float64(c.lateAcks), "late_results": float64(c.lateResults)}
	switch {
	case !c.hasCfg:
		return c.unknown(whyNoConfig, figs)
	case c.acks == 0:
		return c.unknown("no ack event: nothing observed on $JS.ACK.>", figs)
	case c.matched == 0:
		return c.unknown(fmt.Sprintf("%d acks, none for a delivery seen in a reserve or handout", c.acks), figs)
	}
	summary := fmt.Sprintf("%d acks judged: %d late acks, %d late results (A %.3fs, ε %.3fs)", c.matched, c.lateAcks, c.lateResults, c.a, c.eps)
	if c.p.ExpectLateAcks {
		r := Result{Name: c.Name(), OK: boolp(true), Summary: summary + "; late acks expected by the scenario", Offending: c.o.list, Figures: figs}
		return r
	}
	return c.result(&c.o, figs, summary)
}
