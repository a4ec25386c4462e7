package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/chaos/history"
)

// ConnectionLeak is the connection-leak check: at the end phase the
// server's connections must be back to their warmup level within
// Params.LeakGrace (default 2 s). The warmup level is the lowest sample
// during warmup (per-request connections come and go); the end level is the
// lowest sample within LeakGrace of the end phase's start.
type ConnectionLeak struct {
	base
	phase    string
	warmup   int
	hasWarm  bool
	end      float64
	endLevel int
	hasEnd   bool
	samples  int
	pending  []sample // samples before the end phase, within the grace of it
}

type sample struct {
	t float64
	n int
}

// NewConnectionLeak returns the connection-leak checker.
func NewConnectionLeak(p Params) *ConnectionLeak {
	return &ConnectionLeak{base: newBase(p), end: math.Inf(1), endLevel: math.MaxInt}
}

// Name implements [Checker].
func (*ConnectionLeak) Name() string { return "connection-leak" }

// Observe implements [Checker].
func (c *ConnectionLeak) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	grace := c.r.LeakGrace.Seconds()
	switch e.Kind {
	case history.KindPhase:
		c.phase = e.Name
		if e.Name == history.PhaseEnd && math.IsInf(c.end, 1) {
			c.end = e.T
			for _, s := range c.pending {
				if s.t >= c.end-grace {
					c.endSample(s.n)
				}
			}
			c.pending = nil
		}
	case history.KindServer:
		c.samples++
		if c.phase == history.PhaseWarmup {
			if !c.hasWarm || e.Connections < c.warmup {
				c.warmup, c.hasWarm = e.Connections, true
			}
		}
		switch {
		case math.IsInf(c.end, 1):
			// Keep the samples of the last grace period before the end.
			c.pending = append(c.pending, sample{e.T, e.Connections})
			i := 0
			for i < len(c.pending) && c.pending[i].t < e.T-grace {
				i++
			}
			c.pending = c.pending[i:]
		case e.T <= c.end+grace:
			c.endSample(e.Connections)
		}
	}
}

func (c *ConnectionLeak) endSample(n int) {
	c.hasEnd = true
	c.endLevel = min(c.endLevel, n)
}

// Result implements [Checker].
func (c *ConnectionLeak) Result() Result {
	const name = "connection-leak"
	figs := map[string]float64{}
	if c.hasWarm {
		figs["warmup_connections"] = float64(c.warmup)
	}
	if c.hasEnd {
		figs["end_connections"] = float64(c.endLevel)
	}
	switch {
	case c.samples == 0:
		return unknown(name, "no server sample", figs)
	case !c.hasWarm:
		return unknown(name, "no server sample during warmup", figs)
	case math.IsInf(c.end, 1):
		return unknown(name, "the run never reached the end phase", figs)
	case !c.hasEnd:
		return unknown(name, fmt.Sprintf("no server sample within %.1fs of the end phase", c.r.LeakGrace.Seconds()), figs)
	}
	var o offenses
	if c.endLevel > c.warmup {
		o.add("", "", c.end, "%d connections at the end (lowest sample within %.1fs), %d at warmup: %d leaked",
			c.endLevel, c.r.LeakGrace.Seconds(), c.warmup, c.endLevel-c.warmup)
	}
	figs["leaked"] = float64(max(0, c.endLevel-c.warmup))
	return result(name, &o, figs, fmt.Sprintf("connections: %d at warmup, %d at the end", c.warmup, c.endLevel))
}
