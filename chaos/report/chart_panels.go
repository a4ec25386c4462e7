package report

import (
	"fmt"
	"math"
)

// addCalls is the /tasks panel: every kept call at its start, by latency on
// a log scale, by status.
func (c *svgChart) addCalls(tl *timeline, x func(float64) float64, top float64) float64 {
	p := &panel{ID: "calls", Title: "/tasks calls: latency by status", YTitle: "latency (log scale)", Y: top, H: 250}
	lo, hi := math.Inf(1), 0.0
	for i := range tl.buckets {
		for k := range tl.buckets[i].calls {
			for _, cl := range tl.buckets[i].calls[k] {
				if cl.ms > 0 {
					lo, hi = math.Min(lo, cl.ms), math.Max(hi, cl.ms)
				}
			}
		}
	}
	if tl.httpTimeout > 0 {
		hi = math.Max(hi, tl.httpTimeout*1000)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 1000
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi*1.05))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	y := func(ms float64) float64 {
		if ms <= 0 {
			ms = math.Pow(10, d0)
		}
		return top + p.H - (math.Log10(ms)-d0)/(d1-d0)*p.H
	}
	for d := d0; d <= d1; d++ {
		p.YTicks = append(p.YTicks, tick{Pos: y(math.Pow(10, d)), Label: msLabel(math.Pow(10, d))})
	}
	if tl.httpTimeout > 0 {
		p.HLines = append(p.HLines, hline{Y: y(tl.httpTimeout * 1000), Label: "worker HTTP timeout " + trimFloat(tl.httpTimeout) + " s"})
	}
	var n [classesCount]int
	for i := range tl.buckets {
		for k := range tl.buckets[i].calls {
			for _, cl := range tl.buckets[i].calls[k] {
				n[k]++
				what := fmt.Sprintf("status %d in %.1f ms", cl.status, cl.ms)
				if cl.status == 0 {
					why := cl.err
					if why == "" {
						why = "no response"
					}
					what = fmt.Sprintf("%s after %.1f ms", why, cl.ms)
				}
				p.Dots = append(p.Dots, dot{X: x(cl.start), Y: y(cl.ms), Class: "call " + classNames[k], None: k == classNone,
					Title: fmt.Sprintf("%s: /tasks started %.3f s, %s (batch %d, got %d)", cl.worker, cl.start, what, cl.batch, cl.n)})
			}
		}
	}
	labels := [classesCount]string{"200", "503", "other status", "timeout / no response"}
	marks := [classesCount]string{"dot", "dot", "dot", "cross"}
	var items []legendItem
	for k := range classesCount {
		items = append(items, legendItem{Class: "call " + classNames[k], Label: fmt.Sprintf("%s (%d)", labels[k], n[k]), Mark: marks[k]})
	}
	items = append(items, legendItem{Class: "fault-band", Label: "fault window", Mark: "band"})
	p.Legend = layoutLegend(items)
	switch {
	case tl.calls == 0:
		p.Note = "no /tasks calls in the history"
	case tl.kept < tl.calls:
		p.Note = fmt.Sprintf("%d of %d calls drawn: the %d slowest of each status per %s s", tl.kept, tl.calls, pointsPerCell, trimFloat(tl.width))
	}
	c.Panels = append(c.Panels, p)
	return top + p.H
}

// addThroughput is handouts, results and acks per second, with the stalls.
func (c *svgChart) addThroughput(tl *timeline, stalls []window, x func(float64) float64, top float64) float64 {
	p := &panel{ID: "throughput", Title: "handouts, results and acks", YTitle: "per second", Y: top, H: 150}
	get := []func(b *bucket) int{
		func(b *bucket) int { return b.handouts },
		func(b *bucket) int { return b.results },
		func(b *bucket) int { return b.acks },
	}
	hi := 0.0
	for i := range tl.buckets {
		for _, g := range get {
			hi = math.Max(hi, float64(g(&tl.buckets[i]))/tl.width)
		}
	}
	y := c.linearAxis(p, hi)
	for k, class := range []string{"handouts", "results", "acks"} {
		var pts []float64
		for i := range tl.buckets {
			v := y(float64(get[k](&tl.buckets[i])) / tl.width)
			pts = append(pts, x(float64(i)*tl.width), v, x(float64(i+1)*tl.width), v)
		}
		p.Series = append(p.Series, series{Class: "line " + class, Label: class + "/s", Points: points(pts)})
	}
	items := []legendItem{{Class: "line handouts", Label: "handouts/s", Mark: "line"},
		{Class: "line results", Label: "results/s", Mark: "line"}, {Class: "line acks", Label: "acks/s", Mark: "line"}}
	for _, s := range stalls {
		x0, x1 := x(s.Start), x(s.End)
		p.Bands = append(p.Bands, band{X: x0, W: math.Max(x1-x0, 1.5), LabelY: top + 14, Class: "stall-band",
			Label: fmt.Sprintf("stall %.2f s", s.End-s.Start), Title: fmt.Sprintf("stall %.3f s – %.3f s: tasks open, none in flight, workers asking", s.Start, s.End)})
	}
	if len(stalls) > 0 {
		items = append(items, legendItem{Class: "stall-band", Label: "stall", Mark: "band"})
	}
	p.Legend = layoutLegend(items)
	c.Panels = append(c.Panels, p)
	return top + p.H
}

// addConnections is the connections open per NATS link (conn events), or
// the server's connections when the history has no conn events.
func (c *svgChart) addConnections(tl *timeline, x func(float64) float64, top float64) float64 {
	p := &panel{ID: "connections", Title: "open connections per link", YTitle: "connections", Y: top, H: 110}
	var items []legendItem
	if tl.connEvents {
		links := tl.linkNames()
		hi := 0.0
		for _, l := range links {
			for _, v := range tl.links[l].series {
				hi = math.Max(hi, float64(v))
			}
		}
		y := c.linearAxis(p, hi)
		for i, l := range links {
			var pts []float64
			for b, v := range tl.links[l].series {
				pts = append(pts, x(float64(b)*tl.width), y(float64(v)), x(float64(b+1)*tl.width), y(float64(v)))
			}
			class := fmt.Sprintf("line link%d", i%6)
			p.Series = append(p.Series, series{Class: class, Label: l, Points: points(pts)})
			items = append(items, legendItem{Class: class, Label: l, Mark: "line"})
		}
	} else {
		p.Title = "open connections on the NATS server"
		hi := 0.0
		for i := range tl.buckets {
			hi = math.Max(hi, float64(tl.buckets[i].serverConns))
		}
		y := c.linearAxis(p, hi)
		var pts []float64
		for i := range tl.buckets {
			if b := &tl.buckets[i]; b.server {
				pts = append(pts, x((float64(i)+0.5)*tl.width), y(float64(b.serverConns)))
			}
		}
		if len(pts) > 0 {
			p.Series = append(p.Series, series{Class: "line link0", Label: "server", Points: points(pts)})
			items = append(items, legendItem{Class: "line link0", Label: "all clients (server samples; no conn events in the history)", Mark: "line"})
		} else {
			p.Note = "no conn events and no server samples in the history"
		}
	}
	p.Legend = layoutLegend(items)
	c.Panels = append(c.Panels, p)
	return top + p.H
}

// addConsumer is the consumer's ack-pending and pending, from its samples.
func (c *svgChart) addConsumer(tl *timeline, x func(float64) float64, top float64) float64 {
	p := &panel{ID: "consumer", Title: "consumer: ack pending and pending", YTitle: "messages", Y: top, H: 110}
	hi := 0.0
	for i := range tl.buckets {
		hi = math.Max(hi, float64(max(tl.buckets[i].ackPending, tl.buckets[i].pending)))
	}
	y := c.linearAxis(p, hi)
	var ack, pend []float64
	for i := range tl.buckets {
		if b := &tl.buckets[i]; b.consumer {
			cx := x((float64(i) + 0.5) * tl.width)
			ack = append(ack, cx, y(float64(b.ackPending)))
			pend = append(pend, cx, y(float64(b.pending)))
		}
	}
	if tl.consumerSeen {
		p.Series = append(p.Series, series{Class: "line pending", Label: "pending", Points: points(pend)},
			series{Class: "line ackpending", Label: "ack pending", Points: points(ack)})
		p.Legend = layoutLegend([]legendItem{{Class: "line ackpending", Label: "ack pending (delivered, not acked)", Mark: "line"},
			{Class: "line pending", Label: "pending (not yet delivered)", Mark: "line"}})
	} else {
		p.Note = "no consumer samples in the history"
	}
	c.Panels = append(c.Panels, p)
	return top + p.H
}
