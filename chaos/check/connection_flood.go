package check

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/natschaos/natschaos/history"
)

// floodSlack is the connection attempts allowed beyond the ratio (a
// connection of a job created before the history started, say).
const floodSlack = 1

// ConnectionFlood is the connection-flood check, judged by link from the
// conn events: on each NATS link, the connection attempts (open events:
// every connection the link's proxy accepted, handshake completed or not)
// stay ≤ Params.FloodRatio (default 2: room for one retry) per unit of
// work that legitimately needs one, plus one — the units being the API
// requests (http events other than the liveness probe), the results the
// processor acked or tried to ack (the larger of: results answered 200,
// acks counted on the links), and the job changes (job events). A
// pooled API makes almost none; a per-request-connection API one per
// request; a processor that shares the API's link and whose acks fail
// during an outage one per ack tried.
//
// And no reconnect storm: an attempt is explained when an API request was
// in flight at its time, or a unit of work (a request's end, a result, an
// ack, a job change) happened in the Params.FloodSettle (default 2 s)
// before it; Params.FloodBurst (default 3) or more unexplained attempts on
// one link within FloodSettle are a storm — connections that should have
// closed dialling back while nothing asks for them.
//
// A connection whose close shows it served only other jobs (requests and
// acks naming other streams, nothing of the run's: another job's worker on
// the same API) is not an attempt of this run and is not counted.
//
// Server-wide total_connections is reported as a cross-check figure,
// never the verdict. Unknown without conn events.
type ConnectionFlood struct {
	base
	requests   int
	results200 int
	acks       int
	jobs       int
	jobStatus  string              // the job's last status
	opens      map[connKey]float64 // connection → when it opened
	foreign    int                 // connections that served only other jobs
	busy       []span              // when work was in flight or just done (merged as it comes)
	samples    int
	firstTotal uint64
	lastTotal  uint64
}

// span is a closed interval of seconds.
type span struct{ from, to float64 }

// NewConnectionFlood returns the connection-flood checker.
func NewConnectionFlood(p Params) *ConnectionFlood {
	return bind(&ConnectionFlood{base: newBase("connection-flood", p), opens: map[connKey]float64{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *ConnectionFlood) observe(e *history.Event) {
	settle := c.r.FloodSettle.Seconds()
	switch e.Kind {
	case history.KindHTTP:
		if e.Worker != history.ProbeWorker {
			c.requests++
			c.work(callStart(e), e.T+settle)
		}
	case history.KindResult:
		if e.Status == 200 {
			c.results200++
		}
		c.work(e.T, e.T+settle)
	case history.KindAck:
		c.work(e.T, e.T+settle)
	case history.KindJob:
		if e.JobStatus == c.jobStatus {
			return // a progress read-back, not a job change
		}
		c.jobStatus = e.JobStatus
		c.jobs++
		c.work(e.T, e.T+settle)
	case history.KindConn:
		switch e.Phase {
		case history.ConnOpen:
			c.opens[connKey{e.Link, e.ConnID}] = e.T
		case history.ConnClose:
			c.acks += e.Acks
			if foreignOnly(e) {
				// It served only other jobs (another job's worker on the
				// same API): not an attempt of this run's work.
				if _, ok := c.opens[connKey{e.Link, e.ConnID}]; ok {
					delete(c.opens, connKey{e.Link, e.ConnID})
					c.foreign++
				}
			}
		}
	case history.KindServer:
		if c.samples == 0 {
			c.firstTotal = e.TotalConnections
		}
		c.samples++
		c.lastTotal = e.TotalConnections
	}
}

// work records [from, to] as busy, merging it into the last span it meets.
func (c *ConnectionFlood) work(from, to float64) {
	for i := len(c.busy) - 1; i >= 0 && i >= len(c.busy)-4; i-- {
		b := &c.busy[i]
		if from <= b.to && to >= b.from {
			b.from, b.to = math.Min(b.from, from), math.Max(b.to, to)
			return
		}
	}
	c.busy = append(c.busy, span{from, to})
}

// merged returns the busy spans sorted and merged.
func (c *ConnectionFlood) merged() []span {
	s := append([]span(nil), c.busy...)
	sort.Slice(s, func(i, j int) bool { return s[i].from < s[j].from })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && x.from <= out[n-1].to {
			out[n-1].to = math.Max(out[n-1].to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Result implements [Checker].
func (c *ConnectionFlood) Result() Result {
	units := c.requests + max(c.results200, c.acks) + c.jobs
	figs := map[string]float64{"requests": float64(c.requests), "results_acked_or_tried": float64(max(c.results200, c.acks)),
		"job_changes": float64(c.jobs), "units_of_work": float64(units)}
	if c.samples >= 2 && c.lastTotal >= c.firstTotal {
		figs["server_connections_opened"] = float64(c.lastTotal - c.firstTotal) // cross-check only
	}
	figs["connections_of_other_jobs"] = float64(c.foreign)
	if len(c.opens) == 0 && c.foreign == 0 {
		return c.unknown("no conn events (no recording tap on the NATS links)", figs)
	}
	byLink := map[string][]float64{}
	for k, t := range c.opens {
		byLink[k.link] = append(byLink[k.link], t)
	}
	links := make([]string, 0, len(byLink))
	for l := range byLink {
		links = append(links, l)
	}
	sort.Strings(links)
	busy := c.merged()
	settle := c.r.FloodSettle.Seconds()
	bound := math.Ceil(c.r.FloodRatio*float64(units)) + floodSlack
	var o offenses
	var parts []string
	total := 0
	for _, l := range links {
		ts := byLink[l]
		sort.Float64s(ts)
		total += len(ts)
		figs["connections_"+l] = float64(len(ts))
		if units > 0 {
			figs["connections_per_unit_"+l] = float64(len(ts)) / float64(units)
		}
		if float64(len(ts)) > bound {
			o.add("", "", ts[len(ts)-1], "%s: %d connection attempts for %d units of work (%.2f each, bound %.2f)",
				l, len(ts), units, float64(len(ts))/math.Max(1, float64(units)), c.r.FloodRatio)
		}
		idle := unexplained(ts, busy)
		figs["unexplained_connections_"+l] = float64(len(idle))
		if at, n := burst(idle, settle); n >= c.r.FloodBurst {
			o.add("", "", at, "%s: reconnect storm: %d connection attempts within %.1fs from %.3fs with no API request in flight and no work in the %.1fs before",
				l, n, settle, at, settle)
		}
		parts = append(parts, fmt.Sprintf("%s %d", l, len(ts)))
	}
	ratio := math.NaN()
	if units > 0 {
		ratio = float64(total) / float64(units)
		figs["connections_per_unit"] = ratio
	}
	return c.result(&o, figs, fmt.Sprintf("connection attempts %s for %d units of work (%.2f each over the links, bound %.2f per link)",
		strings.Join(parts, ", "), units, ratio, c.r.FloodRatio))
}

// unexplained returns the times in ts (sorted) that no busy span (sorted,
// merged) covers.
func unexplained(ts []float64, busy []span) []float64 {
	var out []float64
	j := 0
	for _, t := range ts {
		for j < len(busy) && busy[j].to < t {
			j++
		}
		if j < len(busy) && busy[j].from <= t {
			continue
		}
		out = append(out, t)
	}
	return out
}

// burst returns the largest number of times in ts (sorted) within one
// window of width w, and where that window starts.
func burst(ts []float64, w float64) (at float64, n int) {
	i := 0
	for j := range ts {
		for ts[j]-ts[i] > w {
			i++
		}
		if j-i+1 > n {
			at, n = ts[i], j-i+1
		}
	}
	return at, n
}
