package check

import (
	"fmt"

	"github.com/natschaos/natschaos/chaos/history"
)

// RoundTrips is the round-trips check: JetStream API calls per successful
// /tasks call (Δ js_api_total / calls, between server samples) stay
// ≤ Params.MaxRoundTrips whatever the batch size. Only sample intervals
// with a successful /tasks call count; intervals where js_api_total went
// down (a NATS restart) are skipped. Samples are read from the monitoring
// port (/varz, /jsz), which costs no JetStream API call, so nothing is
// subtracted for them.
type RoundTrips struct {
	base
	samples  int
	prev     uint64
	everAPI  bool
	calls    int // successful /tasks since the last server sample
	sumAPI   float64
	sumCalls int
	worst    float64
	worstAt  float64
	worstN   int
	batches  map[int]bool
	o        offenses
}

// NewRoundTrips returns the round-trips checker.
func NewRoundTrips(p Params) *RoundTrips {
	return &RoundTrips{base: newBase(p), batches: map[int]bool{}}
}

// Name implements [Checker].
func (*RoundTrips) Name() string { return "round-trips" }

// Observe implements [Checker].
func (c *RoundTrips) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	switch e.Kind {
	case history.KindHTTP:
		if isTasks(e) && e.Status == 200 && e.Err == "" {
			c.calls++
			if e.Batch > 0 && len(c.batches) < 64 {
				c.batches[e.Batch] = true
			}
		}
	case history.KindServer:
		if e.JSAPITotal > 0 {
			c.everAPI = true
		}
		if c.samples > 0 && c.calls > 0 && e.JSAPITotal >= c.prev {
			api := float64(e.JSAPITotal - c.prev)
			c.sumAPI += api
			c.sumCalls += c.calls
			if r := api / float64(c.calls); r > c.worst {
				c.worst, c.worstAt, c.worstN = r, e.T, c.calls
			}
		}
		c.samples++
		c.prev = e.JSAPITotal
		c.calls = 0
	}
}

// Result implements [Checker].
func (c *RoundTrips) Result() Result {
	const name = "round-trips"
	figs := map[string]float64{"tasks_calls": float64(c.sumCalls), "api_calls": c.sumAPI, "worst_interval_per_call": c.worst}
	switch {
	case c.samples < 2:
		return unknown(name, "fewer than two server samples", figs)
	case !c.everAPI:
		return unknown(name, "server samples carry no js_api_total", figs)
	case c.sumCalls == 0:
		return nothing(name, "no successful /tasks call between server samples", figs)
	}
	per := c.sumAPI / float64(c.sumCalls)
	figs["api_calls_per_tasks_call"] = per
	if per > c.r.MaxRoundTrips {
		c.o.add("", "", c.worstAt, "%.2f JetStream API calls per successful /tasks call, bound %.0f; worst interval %.1f per call over %d calls",
			per, c.r.MaxRoundTrips, c.worst, c.worstN)
	}
	return result(name, &c.o, figs, fmt.Sprintf("%.2f JetStream API calls per successful /tasks call over %d calls (bound %.0f, %d batch sizes)",
		per, c.sumCalls, c.r.MaxRoundTrips, len(c.batches)))
}
