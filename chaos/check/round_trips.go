package check

import (
	"fmt"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// maxRoundTripSlope is the growth of JetStream API requests per task
// delivered above which round trips grow with the batch size.
const maxRoundTripSlope = 0.1

// RoundTrips is the round-trips check, judged by link from the conn events
// of api-nats: every connection that pulled (pulls > 0: it served a /tasks
// call) gives a point (msgs: the tasks NATS delivered on it, js_api: the
// JetStream API requests the client sent on it, pulls included; requests
// naming another job's stream are not in js_api). It fails when
//
//   - the requests grow with the tasks delivered: the least-squares slope
//     of js_api against msgs over the connections that served one pull is
//     above 0.1 request per task (judged only with at least two distinct
//     msgs values; the summary says when it was not). A connection of
//     several pulls — a pooled connection that served many /tasks calls,
//     or N single pulls in one call — mixes calls, so it counts only in
//     the mean below; or
//   - the mean requests per /tasks call exceed Params.MaxRoundTrips
//     (default 10: room for a handful of constant metadata calls). The
//     calls are the pulling connections, or the successful /tasks calls
//     when there are more of those (an API that keeps one connection for
//     many calls).
//
// Connections that did not pull (the result processor's acks, job
// creation, cleanup) never count, nor does anything the harness sends on
// its own connections. The server-wide js_api_total per successful /tasks
// call is reported as a cross-check figure, never the verdict: it also
// counts every other client of the server. Unknown without conn events on
// api-nats.
type RoundTrips struct {
	base
	seen     bool    // any conn event on api-nats
	n        int     // connections that pulled
	sy       float64 // their js_api
	n1       int     // of them, connections of one pull: the slope's points
	sx, sy1  float64
	sxx, sxy float64
	firstX   int
	distinct bool
	worst    int
	worstT   float64
	worstX   int
	tasksOK  int
	batches  map[int]bool

	samples            int
	firstJS, lastJS    uint64
	firstCalls, nCalls int // successful /tasks calls at the first and last server sample
}

// NewRoundTrips returns the round-trips checker.
func NewRoundTrips(p Params) *RoundTrips {
	return bind(&RoundTrips{base: newBase("round-trips", p), batches: map[int]bool{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *RoundTrips) observe(e *history.Event) {
	switch e.Kind {
	case history.KindHTTP:
		if e.IsTasksCall() && e.Status == 200 && e.Err == "" {
			c.tasksOK++
			if e.Batch > 0 && len(c.batches) < 64 {
				c.batches[e.Batch] = true
			}
		}
	case history.KindConn:
		if e.Link != protocol.LinkAPINATS {
			return
		}
		c.seen = true
		if e.Phase != history.ConnClose || e.Pulls <= 0 {
			return
		}
		x, y := float64(e.Msgs), float64(e.JSAPI)
		c.n++
		c.sy += y
		if e.JSAPI > c.worst {
			c.worst, c.worstT, c.worstX = e.JSAPI, e.T, e.Msgs
		}
		if e.Pulls > 1 {
			return
		}
		if c.n1 == 0 {
			c.firstX = e.Msgs
		} else if e.Msgs != c.firstX {
			c.distinct = true
		}
		c.n1++
		c.sx += x
		c.sy1 += y
		c.sxx += x * x
		c.sxy += x * y
	case history.KindServer:
		if c.samples == 0 {
			c.firstJS, c.firstCalls = e.JSAPITotal, c.tasksOK
		}
		c.samples++
		c.lastJS, c.nCalls = e.JSAPITotal, c.tasksOK
	}
}

// Result implements [Checker].
func (c *RoundTrips) Result() Result {
	figs := map[string]float64{"tasks_connections": float64(c.n), "tasks_calls_ok": float64(c.tasksOK),
		"js_api_on_tasks_connections": c.sy, "batch_sizes": float64(len(c.batches))}
	if calls := c.nCalls - c.firstCalls; c.samples >= 2 && calls > 0 && c.lastJS >= c.firstJS {
		figs["server_js_api_per_tasks_call"] = float64(c.lastJS-c.firstJS) / float64(calls) // cross-check only
	}
	switch {
	case !c.seen:
		return c.unknown("no conn events on api-nats (no recording tap on the link)", figs)
	case c.n == 0:
		return c.nothing("no api-nats connection pulled", figs)
	}
	calls := max(c.n, c.tasksOK)
	mean := c.sy / float64(calls)
	figs["js_api_per_tasks_call"] = mean
	var o offenses
	slope := "slope not judged: every /tasks connection of one pull got the same number of tasks"
	if c.n1 == 0 {
		slope = "slope not judged: no /tasks connection of one pull"
	}
	if c.distinct {
		n := float64(c.n1)
		b := (n*c.sxy - c.sx*c.sy1) / (n*c.sxx - c.sx*c.sx)
		figs["js_api_per_task_slope"] = b
		slope = fmt.Sprintf("slope %.3f per task (bound %.1f)", b, maxRoundTripSlope)
		if b > maxRoundTripSlope {
			o.add("", "", c.worstT, "JetStream API requests grow with the tasks delivered: %.2f more per task over %d /tasks connections of one pull (bound %.1f); worst %d requests for %d tasks",
				b, c.n1, maxRoundTripSlope, c.worst, c.worstX)
		}
	}
	if mean > c.r.MaxRoundTrips {
		o.add("", "", c.worstT, "%.2f JetStream API requests per /tasks call over %d calls, budget %.0f; worst connection %d requests for %d tasks",
			mean, calls, c.r.MaxRoundTrips, c.worst, c.worstX)
	}
	return c.result(&o, figs, fmt.Sprintf("%.2f JetStream API requests per /tasks call on api-nats over %d calls (budget %.0f); %s",
		mean, calls, c.r.MaxRoundTrips, slope))
}
