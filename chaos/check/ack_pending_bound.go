package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
)

// AckPendingBound is the ack-pending-bound check: every consumer sample has
// num_ack_pending ≤ max_ack_pending (from the config event).
type AckPendingBound struct {
	base
	samples int
	highest int
	o       offenses
}

// NewAckPendingBound returns the ack-pending-bound checker.
func NewAckPendingBound(p Params) *AckPendingBound {
	return bind(&AckPendingBound{base: newBase("ack-pending-bound", p)})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *AckPendingBound) observe(e *history.Event) {
	if e.Kind != history.KindConsumer {
		return
	}
	c.samples++
	c.highest = max(c.highest, e.NumAckPending)
	if c.hasCfg && c.cfg.MaxAckPending > 0 && e.NumAckPending > c.cfg.MaxAckPending {
		c.o.add("", "", e.T, "num_ack_pending %d > max_ack_pending %d", e.NumAckPending, c.cfg.MaxAckPending)
	}
}

// Result implements [Checker].
func (c *AckPendingBound) Result() Result {
	figs := map[string]float64{"samples": float64(c.samples), "max_num_ack_pending": float64(c.highest)}
	switch {
	case !c.hasCfg:
		return c.unknown(whyNoConfig, figs)
	case c.samples == 0:
		return c.unknown("no consumer sample", figs)
	case c.cfg.MaxAckPending <= 0:
		return c.nothing("max_ack_pending is unlimited", figs)
	}
	figs["max_ack_pending"] = float64(c.cfg.MaxAckPending)
	return c.result(&c.o, figs, fmt.Sprintf("%d consumer samples, highest num_ack_pending %d (max_ack_pending %d)",
		c.samples, c.highest, c.cfg.MaxAckPending))
}
