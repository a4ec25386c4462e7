package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// RedeliveryTiming is the redelivery-timing check. For consecutive
// deliveries k, k+1 of a task the expected time of k+1 is t_k + A, or
// t_wpi + A after an in-progress ack, or the NAK time after a NAK.
// Premature: t_{k+1} < expected − ε. Late: t_{k+1} > expected + ε although
// a /tasks call for the run's job that started after expected + ε and ended
// before t_{k+1} was answered 200 with no task at all: the queue looked
// empty to a worker while the task was due, so NATS held it back. A call
// that got fewer tasks than its batch proves nothing: a correct API returns
// what is ready without waiting out its whole fetch, and under resets or
// latency it does so all the time. A call that failed (5xx, timeout) proves
// nothing either: the API may never have asked NATS. A delivery whose
// predecessor was never observed is counted as unobserved, not judged. A delivery's time is its reserve where the API
// is instrumented, else its handout.
//
// A NATS restart (a nats_restart fault, or a leader election in a cluster)
// between deliveries k and k+1 resets the server's redelivery timers: the
// restarted server may redeliver what was pending at once (measured on
// nats-server 2.15.2, see docs/facts.md). Such a delivery is expected from
// the restart on and at the latest A after it; it is counted as
// "after a restart", never as premature.
type RedeliveryTiming struct {
	base
	bySSeq      map[uint64]*lastDelivery
	deliveries  int
	redelivered int
	judged      int
	unobserved  int
	premature   int
	late        int
	empty       float64 // latest start of a /tasks call for the run's job answered 200 with no task
	job         int64   // the run's job (its first job event); 0 = not known
	restart     float64 // latest NATS restart or leader election
	restarted   int     // redeliveries judged against a restart
	o           offenses
}

type lastDelivery struct {
	task     string
	reply    string
	dc       int
	t        float64
	expected float64
	// earliest is the soonest the next delivery may come without being
	// premature: expected, but counted from the start of the pull that
	// brought delivery k when the reserve event says how long it waited
	// (ms) — NATS starts ack_wait when it sends, and a loaded machine
	// delays the receipt, not the timer.
	earliest float64
	why      string
}

// NewRedeliveryTiming returns the redelivery-timing checker.
func NewRedeliveryTiming(p Params) *RedeliveryTiming {
	return bind(&RedeliveryTiming{base: newBase("redelivery-timing", p), bySSeq: map[uint64]*lastDelivery{}, empty: math.Inf(-1), restart: math.Inf(-1)})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *RedeliveryTiming) observe(e *history.Event) {
	if !c.hasCfg {
		return
	}
	switch e.Kind {
	case history.KindReserve, history.KindHandout:
		sseq := sseqOf(e)
		if sseq == 0 || e.DC <= 0 {
			return
		}
		d := c.bySSeq[sseq]
		if d != nil && e.DC <= d.dc {
			return // the handout of a reserve seen, or out of order
		}
		c.deliveries++
		if e.DC > 1 {
			c.redelivered++
			if d == nil || e.DC != d.dc+1 {
				c.unobserved++
			} else {
				c.judge(e, d)
			}
		}
		if d == nil {
			d = &lastDelivery{}
			c.bySSeq[sseq] = d
		}
		*d = lastDelivery{task: e.Task, reply: e.Reply, dc: e.DC, t: e.T, expected: e.T + c.a, why: "t_k + A"}
		d.earliest = d.expected
		if e.Kind == history.KindReserve && e.MS > 0 {
			d.earliest -= e.MS / 1000
		}
	case history.KindAck:
		sseq := sseqOf(e)
		d := c.bySSeq[sseq]
		if d == nil || (e.DC != 0 && e.DC != d.dc) {
			return
		}
		switch e.Ack {
		case "wpi":
			d.expected, d.why = e.T+c.a, "in-progress ack + A"
			d.earliest = d.expected
		case "nak":
			d.expected, d.why = e.T, "NAK"
			d.earliest = d.expected
		default:
			delete(c.bySSeq, sseq) // done: a later delivery is not judged
		}
	case history.KindJob:
		if c.job == 0 {
			c.job = e.Job
		}
	case history.KindHTTP:
		if e.IsTasksCall() && e.Status == 200 && e.Err == "" && e.N == 0 && c.forJob(e.Path) {
			c.empty = max(c.empty, callStart(e))
		}
	case history.KindFault:
		if e.Phase == "start" && effectsOf(e).Has(history.EffectNATSRestart) {
			c.restart = e.T
		}
	case history.KindAdvisory:
		if e.Type == "leader_elected" {
			c.restart = e.T
		}
	}
}

// forJob reports whether a /tasks path is a call for the run's job (when
// the job or the path's job id is not known, every call counts).
func (c *RedeliveryTiming) forJob(path string) bool {
	id, ok := protocol.JobOfPath(path)
	return !ok || c.job == 0 || id == c.job
}

func (c *RedeliveryTiming) judge(e *history.Event, d *lastDelivery) {
	c.judged++
	if c.restart > d.t {
		c.restarted++
		if bound := max(d.expected, c.restart+c.a); e.T > bound+c.eps && c.empty > bound+c.eps {
			c.late++
			c.o.add(e.Task, e.Reply, e.T, "late: delivery %d at %.3fs, expected by %.3fs (a NATS restart at %.3fs + A) + ε %.3fs, though a /tasks call started at %.3fs got no task",
				e.DC, e.T, bound, c.restart, c.eps, c.empty)
		}
		return
	}
	switch {
	case e.T < d.earliest-c.eps:
		c.premature++
		c.o.add(e.Task, e.Reply, e.T, "premature: delivery %d at %.3fs, expected from %.3fs (%s, delivery %d at %.3fs, its pull asked %.3fs before) − ε %.3fs",
			e.DC, e.T, d.earliest, d.why, d.dc, d.t, d.expected-d.earliest, c.eps)
	case e.T > d.expected+c.eps && c.empty > d.expected+c.eps:
		c.late++
		c.o.add(e.Task, e.Reply, e.T, "late: delivery %d at %.3fs, expected %.3fs (%s) + ε %.3fs, though a /tasks call started at %.3fs got no task",
			e.DC, e.T, d.expected, d.why, c.eps, c.empty)
	}
}

// Result implements [Checker].
func (c *RedeliveryTiming) Result() Result {
	figs := map[string]float64{
		"redeliveries": float64(c.redelivered), "judged": float64(c.judged), "unobserved": float64(c.unobserved),
		"premature": float64(c.premature), "late": float64(c.late), "after_restart": float64(c.restarted),
	}
	switch {
	case !c.hasCfg:
		return c.unknown(whyNoConfig, figs)
	case c.deliveries == 0:
		return c.unknown("no reserve or handout event: no delivery observed", figs)
	case c.redelivered == 0:
		return c.nothing("no task was redelivered", figs)
	case c.judged == 0:
		return c.unknown(fmt.Sprintf("%d redeliveries, none whose previous delivery was observed", c.redelivered), figs)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d redeliveries: %d judged (%d after a NATS restart), %d premature, %d late, %d unobserved (ε %.3fs)",
		c.redelivered, c.judged, c.restarted, c.premature, c.late, c.unobserved, c.eps))
}
