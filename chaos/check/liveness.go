package check

import (
	"fmt"
	"math"
	"slices"

	"github.com/natschaos/natschaos/history"
)

// Liveness is the liveness check: the harness probes the API's NATS-free
// endpoint every 100 ms (http events with worker "probe"). Fails if a probe
// fails (an error or a status other than 200) or if the probes' p99 in any
// window of Params.ProbeWindow exceeds Params.ProbeP99, fault windows
// included. One exception: while the API restarts (a fault with the
// api-restart effect) nothing answers. The restart's start event is written
// once the API is back, so a probe that failed within Params.RestartBound
// before it is excused; one that failed earlier says the API took longer
// than that to stop and start again. Failed probes are judged at the end,
// when every restart is known.
type Liveness struct {
	base
	restarts windows
	failures []probeFailure // judged in Result, once every restart is known
	excused  int
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
	return bind(&Liveness{base: newBase("liveness", p), winStart: math.Inf(-1),
		restarts: windows{match: func(w window) bool { return w.effects.Has(history.EffectAPIRestart) }}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Liveness) observe(e *history.Event) {
	c.restarts.observe(e)
	if e.Kind != history.KindHTTP || e.Worker != history.ProbeWorker {
		return
	}
	c.probes++
	if e.Err != "" || e.Status != 200 {
		what := e.Err
		if what == "" {
			what = fmt.Sprintf("status %d", e.Status)
		}
		c.failures = append(c.failures, probeFailure{t: e.T, ms: e.MS, path: e.Path, what: what})
	}
	c.all.add(e.MS)
	w := c.r.ProbeWindow.Seconds()
	if e.T >= c.winStart+w {
		c.closeWindow()
		c.winStart = math.Floor(e.T/w) * w
	}
	c.win = append(c.win, e.MS)
}

type probeFailure struct {
	t, ms      float64
	path, what string
}

// restarting reports whether probe f ran into the last RestartBound before
// an API restart was done (its start event): it ended after that began and
// was sent before the restart was done.
func (c *Liveness) restarting(f probeFailure) bool {
	b := c.r.RestartBound.Seconds()
	return slices.ContainsFunc(c.restarts.list, func(w window) bool {
		return f.t+f.ms/1000 >= w.start-b && f.t <= w.start
	})
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
	for _, f := range c.failures {
		if c.restarting(f) {
			c.excused++
			continue
		}
		c.failed++
		c.o.add("", "", f.t, "probe %s failed: %s after %.0f ms", f.path, f.what, f.ms)
	}
	c.failures = nil
	figs := map[string]float64{"probes": float64(c.probes), "failed": float64(c.failed), "slow_windows": float64(c.slowWins),
		"worst_window_p99_seconds": c.worst / 1000, "failed_in_restarts": float64(c.excused)}
	if c.probes == 0 {
		return c.unknown("no probe (http event with worker \"probe\")", figs)
	}
	p99 := c.all.quantile(0.99)
	figs["p99_seconds"] = p99 / 1000
	restarts := ""
	if n := len(c.restarts.list); n > 0 {
		restarts = fmt.Sprintf(" (and %d in the last %gs before %d API restarts were done)", c.excused, c.r.RestartBound.Seconds(), n)
	}
	return c.result(&c.o, figs, fmt.Sprintf("%d probes, %d failed%s; p99 %.0f ms, worst %gs-window p99 %.0f ms (bound %.0f ms)",
		c.probes, c.failed, restarts, p99, c.r.ProbeWindow.Seconds(), c.worst, c.r.ProbeP99.Seconds()*1000))
}
