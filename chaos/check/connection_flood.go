package check

import (
	"fmt"
	"math"

	"github.com/natschaos/natschaos/chaos/history"
)

// ConnectionFlood is the connection-flood check: connections opened
// (Δ total_connections between server samples) per API request and per
// ack stay ≤ Params.FloodRatio, over the whole run and around every reset
// fault on api-nats or results-nats. Around a reset the interval runs from
// the last sample before the fault to the first sample Params.FloodSettle
// after it ends: total_connections counts only connections the server
// completed, so reconnects of connections that should have been closed
// show as a burst when NATS comes back. One connection of slack absorbs
// sampling boundaries.
type ConnectionFlood struct {
	base
	n       int // API requests (not probes) and acks so far
	first   snap
	last    snap
	samples int
	resets  []resetWindow
	o       offenses
}

type snap struct {
	t     float64
	total uint64
	n     int
}

type resetWindow struct {
	window
	before, after snap
	hasBefore     bool
	done          bool
}

// floodSlack is the connections allowed beyond the ratio around a fault.
const floodSlack = 1

// NewConnectionFlood returns the connection-flood checker.
func NewConnectionFlood(p Params) *ConnectionFlood { return &ConnectionFlood{base: newBase(p)} }

// Name implements [Checker].
func (*ConnectionFlood) Name() string { return "connection-flood" }

// Observe implements [Checker].
func (c *ConnectionFlood) Observe(e *history.Event) {
	if c.config(e) {
		return
	}
	switch e.Kind {
	case history.KindHTTP:
		if e.Worker != history.ProbeWorker {
			c.n++
		}
	case history.KindAck:
		c.n++
	case history.KindFault:
		if e.Name == "reset" && (e.Link == linkAPINATS || e.Link == linkResultsNATS) {
			switch e.Phase {
			case "start":
				w := resetWindow{window: window{id: e.ID, name: e.Name, link: e.Link, start: e.T, end: math.Inf(1)}}
				if c.samples > 0 {
					w.before, w.hasBefore = c.last, true
				}
				c.resets = append(c.resets, w)
			case "end":
				for i := range c.resets {
					if c.resets[i].id == e.ID && math.IsInf(c.resets[i].end, 1) {
						c.resets[i].end = e.T
					}
				}
			}
		}
	case history.KindServer:
		s := snap{t: e.T, total: e.TotalConnections, n: c.n}
		if c.samples == 0 {
			c.first = s
		}
		c.samples++
		c.last = s
		for i := range c.resets {
			w := &c.resets[i]
			if !w.done && w.hasBefore && e.T >= w.end+c.r.FloodSettle.Seconds() {
				w.after, w.done = s, true
				c.judge(w)
			}
		}
	}
}

func (c *ConnectionFlood) judge(w *resetWindow) {
	opened := float64(w.after.total) - float64(w.before.total)
	asked := float64(w.after.n - w.before.n)
	if opened > math.Ceil(c.r.FloodRatio*asked)+floodSlack {
		c.o.add("", "", w.start, "%s on %s (%.3fs–%.3fs): %.0f connections opened for %.0f requests and acks (%.3fs–%.3fs): reconnects",
			w.name, w.link, w.start, w.end, opened, asked, w.before.t, w.after.t)
	}
}

// Result implements [Checker].
func (c *ConnectionFlood) Result() Result {
	const name = "connection-flood"
	opened := float64(c.last.total) - float64(c.first.total)
	asked := float64(c.last.n - c.first.n)
	figs := map[string]float64{"connections_opened": opened, "requests_and_acks": asked, "reset_windows": float64(len(c.resets))}
	if c.samples < 2 {
		return unknown(name, "fewer than two server samples", figs)
	}
	for i := range c.resets {
		if w := &c.resets[i]; !w.done && w.hasBefore && c.last.t > w.start {
			w.after, w.done = c.last, true // the run ended before the settle time
			c.judge(w)
		}
	}
	ratio := math.NaN()
	if asked > 0 {
		ratio = opened / asked
		figs["connections_per_request"] = ratio
	}
	if asked == 0 && opened == 0 {
		return nothing(name, "no API request, no ack, no connection opened", figs)
	}
	if asked == 0 || ratio > c.r.FloodRatio {
		// Keep the run-wide offense first: it is the headline.
		o := offenses{n: c.o.n + 1}
		o.list = append([]Offense{{T: c.last.t, Detail: fmt.Sprintf("%.0f connections opened for %.0f API requests and acks (%.3f each, bound %.2f)",
			opened, asked, ratio, c.r.FloodRatio)}}, c.o.list...)
		o.list = o.list[:min(len(o.list), MaxOffenses)]
		c.o = o
	}
	return result(name, &c.o, figs, fmt.Sprintf("%.0f connections opened for %.0f API requests and acks (%.3f each, bound %.2f); %d reset windows",
		opened, asked, ratio, c.r.FloodRatio, len(c.resets)))
}
