package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/history"
)

// Liveness is the liveness check: the harness probes the API's NATS-free
// endpoint every 100 ms (http events with worker "probe"). Fails if a probe
// fails (an error or a status other than 200) or if the probes' p99 in any
// window of Params.ProbeWindow exceeds Params.ProbeP99, fault windows
// included.
type Liveness struct {
	base
	probes   int
	failed   int
	all      msHist
	win      []float64
	winStart float64
	worst    float64
	slowWins int
	o        offenses
}

// NewLiveness returns the liveness checker.
func NewLiveness(p Params) *Liveness {
	return &Liveness{base: newBase("liveness", p), winStart: math.Inf(-1)}
}

// Observe implements [Checker].
func (c *Liveness) Observe(e *history.Event) {
	if c.config(e) || e.Kind != history.KindHTTP || e.Worker != history.ProbeWorker {
		return
	}
	c.probes++
	if e.Err != "" || e.Status != 200 {
		c.failed++
		what := e.Err
		if what == "" {
			what = fmt.Sprintf("status %d", e.Status)
		}
		c.o.add("", "", e.T, "probe %s failed: %s after %.0f ms", e.Path, what, e.MS)
	}
	c.all.add(e.MS)
	w := c.r.ProbeWindow.Seconds()
	if e.T >= c.winStart+w {
		c.closeWindow()
		c.winStart = math.Floor(e.T/w) * w
	}
	c.win = append(c.win, e.MS)
}

func (c *Liveness) closeWindow() {
	if len(c.win) == 0 {
		return
	}
	p99 := quantile(c.win, 0.99)
	c.worst = max(c.worst, p99)
	if p99/1000 > c.r.ProbeP99.Seconds() {
		c.slowWins++
		c.o.add("", "", c.winStart, "probe p99 %.0f ms over %d probes in %.3fs–%.3fs > %.0f ms",
			p99, len(c.win), c.winStart, c.winStart+c.r.ProbeWindow.Seconds(), c.r.ProbeP99.Seconds()*1000)
	}
	c.win = c.win[:0]
}

// Result implements [Checker].
func (c *Liveness) Result() Result {
	c.closeWindow()
	figs := map[string]float64{"probes": float64(c.probes), "failed": float64(c.failed), "slow_windows": float64(c.slowWins),
		"worst_window_p99_seconds": c.worst / 1000}
	if c.probes == 0 {
		return c.unknown("no probe (http event with worker \"probe\")", figs)
	}
	p99 := c.all.quantile(0.99)
	figs["p99_seconds"] = p99 / 1000
	return c.result(&c.o, figs, fmt.Sprintf("%d probes, %d failed; p99 %.0f ms, worst %gs-window p99 %.0f ms (bound %.0f ms)",
		c.probes, c.failed, p99, c.r.ProbeWindow.Seconds(), c.worst, c.r.ProbeP99.Seconds()*1000))
}
