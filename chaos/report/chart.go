package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The geometry of report.html's timeline, drawn as inline SVG by the
// template: every coordinate is computed here, every text is escaped there.
const (
	chartW     = 1200.0
	plotLeft   = 84.0
	plotRight  = chartW - 24
	laneTop    = 8.0  // the label lane above the panels: phases, then faults
	laneRow    = 17.0 // height of a label row
	panelGap   = 58.0 // between two panels: the title row and the x labels
	axisBottom = 44.0 // below the last panel: tick labels and the axis title

	maxFaultRows = 4 // rows of fault labels at most
)

// svgChart is the timeline as the template draws it.
type svgChart struct {
	W, H        float64
	Left, Right float64
	Top, Bottom float64 // the y range every panel spans (for faults and phases)
	Panels      []*panel
	XTicks      []tick
	XTitle      string
	Faults      []band
	Phases      []vline
	Dur         float64 // seconds the time axis spans
}

type tick struct {
	Pos   float64
	Label string
}

type band struct {
	X, W, LabelY float64
	Label, Title string
	Class        string
	Tone         string // a fault's colour: one per link
}

type vline struct {
	X, LabelX, LabelY float64
	Label             string
	Anchor            string // the label's text-anchor
}

type hline struct {
	Y     float64
	Label string
}

type series struct {
	Class, Label, Points string
}

type dot struct {
	X, Y  float64
	Class string
	Title string
	None  bool // drawn as a cross: no answer
}

type legendItem struct {
	X     float64
	Class string
	Label string
	Mark  string // "dot", "cross", "line", "band"
}

type panel struct {
	ID, Title, YTitle string
	Y, H              float64
	YTicks            []tick
	Series            []series
	Dots              []dot
	Bands             []band
	HLines            []hline
	Legend            []legendItem
	Note              string
}

// chart lays out the timeline tl (and the stalls of the report) as panels
// sharing the time axis.
func chart(tl *timeline, stalls []window) *svgChart {
	tl = tl.rebin()
	dur := max(tl.last, float64(len(tl.buckets))*tl.width, 1e-3)
	c := &svgChart{W: chartW, Left: plotLeft, Right: plotRight, Dur: dur,
		XTitle: "time since the run's start (s)"}
	xs := (plotRight - plotLeft) / dur
	x := func(t float64) float64 { return plotLeft + math.Max(0, math.Min(t, dur))*xs }

	// The label lane: one row of phases, then as many rows of fault labels as
	// overlapping labels need.
	y := laneTop + laneRow
	// Phase labels close in time go side by side, and none past the edge.
	labelEnd := 0.0
	for _, p := range tl.phases {
		v := vline{X: x(p.Start), LabelY: y - 4, Label: p.Name, Anchor: "start"}
		v.LabelX = max(v.X+3, labelEnd)
		labelEnd = v.LabelX + textWidth(p.Name, 12) + 8
		c.Phases = append(c.Phases, v)
	}
	limit := chartW - 2.0
	for i := len(c.Phases) - 1; i >= 0; i-- {
		v := &c.Phases[i]
		if w := textWidth(v.Label, 12); v.LabelX+w > limit {
			v.LabelX = limit - w
		}
		limit = v.LabelX - 8
	}
	var rowEnds []float64
	tones := map[string]string{} // one colour per link, in order of appearance
	for _, f := range tl.faults {
		tone, ok := tones[f.Link]
		if !ok {
			tone = fmt.Sprintf("fl%d", len(tones)%4)
			tones[f.Link] = tone
		}
		label := f.Name
		if f.Link != "" {
			label += " · " + f.Link
		}
		if f.ID != "" {
			label = f.ID + " " + label
		}
		x0, x1 := x(f.Start), x(f.End)
		row := 0
		for row < len(rowEnds) && rowEnds[row] > x0 {
			row++
		}
		text := label
		switch {
		case row == maxFaultRows: // too many at once: the band keeps its tooltip, not its label
			row, text = maxFaultRows-1, ""
		case row == len(rowEnds):
			rowEnds = append(rowEnds, 0)
		}
		if text != "" {
			rowEnds[row] = x0 + textWidth(label, 12) + 12
		}
		end := fmt.Sprintf("%.3f s", f.End)
		if f.Open {
			end = "never healed"
		}
		c.Faults = append(c.Faults, band{X: x0, W: math.Max(x1-x0, 1.5), LabelY: y + laneRow*float64(row+1) - 4,
			Label: text, Title: fmt.Sprintf("fault %s: %.3f s – %s", label, f.Start, end), Class: "fault-band " + tone, Tone: tone})
	}
	y += laneRow*float64(max(len(rowEnds), 1)) + panelGap - 20

	c.Top = y
	y = c.addCalls(tl, x, y)
	y = c.addThroughput(tl, stalls, x, y+panelGap)
	y = c.addConnections(tl, x, y+panelGap)
	y = c.addConsumer(tl, x, y+panelGap)
	c.Bottom = y
	c.H = y + axisBottom
	for _, t := range niceTicks(0, dur, 10) {
		if t > dur*1.0001 {
			break
		}
		c.XTicks = append(c.XTicks, tick{Pos: x(t), Label: trimFloat(t)})
	}
	return c
}

// linearAxis sets p's ticks for 0..hi and returns the y of a value.
func (c *svgChart) linearAxis(p *panel, hi float64) func(float64) float64 {
	ticks := niceTicks(0, math.Max(hi, 1), 4)
	top := ticks[len(ticks)-1]
	y := func(v float64) float64 { return p.Y + p.H - v/top*p.H }
	for _, t := range ticks {
		p.YTicks = append(p.YTicks, tick{Pos: y(t), Label: trimFloat(t)})
	}
	return y
}

// rebin merges buckets so that a timeline has at most maxBuckets of them.
func (tl *timeline) rebin() *timeline {
	f := (len(tl.buckets) + maxBuckets - 1) / maxBuckets
	if f <= 1 {
		return tl
	}
	out := *tl
	out.width = tl.width * float64(f)
	out.buckets = make([]bucket, (len(tl.buckets)+f-1)/f)
	for i := range tl.buckets {
		a, b := &out.buckets[i/f], &tl.buckets[i]
		a.handouts += b.handouts
		a.results += b.results
		a.acks += b.acks
		a.ackPending, a.pending = max(a.ackPending, b.ackPending), max(a.pending, b.pending)
		a.consumer = a.consumer || b.consumer
		a.serverConns, a.server = max(a.serverConns, b.serverConns), a.server || b.server
		for k := range b.calls {
			a.calls[k] = append(a.calls[k], b.calls[k]...)
		}
	}
	out.links = map[string]*linkConns{}
	for l, lc := range tl.links {
		m := &linkConns{series: make([]int, len(out.buckets))}
		for i, v := range lc.series {
			m.series[i/f] = max(m.series[i/f], v)
		}
		out.links[l] = m
	}
	return &out
}

// layoutLegend places legend items right-aligned on the panel's title row.
func layoutLegend(items []legendItem) []legendItem {
	x := plotRight
	for i := len(items) - 1; i >= 0; i-- {
		x -= 22 + textWidth(items[i].Label, 12)
		items[i].X = x
		x -= 14
	}
	return items
}

// textWidth estimates the width of s in the report's sans-serif font.
func textWidth(s string, size float64) float64 {
	return float64(len([]rune(s))) * size * 0.6
}

// niceTicks are about n round values from lo to at least hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := lo; ; v += step {
		out = append(out, math.Round(v/step)*step)
		if v >= hi-step*1e-9 {
			break
		}
	}
	return out
}

func points(p []float64) string {
	var b strings.Builder
	for i := 0; i+1 < len(p); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(p[i], 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(p[i+1], 'f', 1, 64))
	}
	return b.String()
}

// trimFloat prints v with no trailing zeros, rounded to a millionth.
func trimFloat(v float64) string { return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) }

func msLabel(ms float64) string {
	if ms >= 1000 {
		return trimFloat(ms/1000) + " s"
	}
	return trimFloat(ms) + " ms"
}
