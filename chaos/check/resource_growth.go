package check

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/history"
)

// GrowthParams are the tolerances of the resource-growth check: how long
// to wait before fitting, how long the fit must span at least, and the
// largest upward slope allowed per minute of each kind of series.
type GrowthParams struct {
	Warmup      time.Duration // from the first event; default 30 s
	MinDuration time.Duration // the fit's span after warmup; default 60 s
	// Bucket is the width of the buckets whose minimum is fitted; default
	// 10 s. The minimum is the floor a series comes back to between
	// requests: what a leak raises, and what requests in flight and
	// garbage collection do not.
	Bucket time.Duration
	// Per-minute bounds; 0 takes the default.
	Conns         float64 // open connections per link; default 2
	Subscriptions float64 // server subscriptions; default 10
	SlowConsumers float64 // server slow consumers; default 1
	MemMB         float64 // server memory and process RSS, MB; default 16
	FDs           float64 // a process's open files; default 10
	Goroutines    float64 // a process's goroutines; default 20
}

// Defaults of GrowthParams.
const (
	DefaultGrowthWarmup      = 30 * time.Second
	DefaultGrowthMinDuration = 60 * time.Second
	DefaultGrowthBucket      = 10 * time.Second
)

// WithDefaults fills in every unset tolerance.
func (g GrowthParams) WithDefaults() GrowthParams {
	set := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if g.Warmup <= 0 {
		g.Warmup = DefaultGrowthWarmup
	}
	if g.MinDuration <= 0 {
		g.MinDuration = DefaultGrowthMinDuration
	}
	if g.Bucket <= 0 {
		g.Bucket = DefaultGrowthBucket
	}
	set(&g.Conns, 2)
	set(&g.Subscriptions, 10)
	set(&g.SlowConsumers, 1)
	set(&g.MemMB, 16)
	set(&g.FDs, 10)
	set(&g.Goroutines, 20)
	return g
}

// fit is a running least-squares fit, over t, of the minimum of y in each
// bucket: O(1) memory however long the series.
type fit struct {
	n                  float64
	t0                 float64 // first point's t: the sums are over t - t0
	st, sy, stt, sty   float64
	first, last, lastT float64
	unit               string
	bound              float64 // per minute, in the series' unit
	scale              float64 // divides y into the unit
	width              float64 // bucket width, seconds
	origin             float64 // where bucket 0 starts
	bucket             int64   // the current bucket
	min                float64 // its minimum so far
	open               bool    // the current bucket has a value
}

// add takes a sample.
func (f *fit) add(t, y float64) {
	y /= f.scale
	b := int64(math.Floor((t - f.origin) / f.width))
	if f.open && b != f.bucket {
		f.point(f.mid(f.bucket), f.min)
		f.open = false
	}
	if !f.open || y < f.min {
		f.min = y
	}
	f.bucket, f.open = b, true
	f.lastT = t
}

func (f *fit) mid(b int64) float64 { return f.origin + (float64(b)+0.5)*f.width }

// point adds one bucket's minimum to the fit.
func (f *fit) point(t, y float64) {
	if f.n == 0 {
		f.t0, f.first = t, y
	}
	x := t - f.t0
	f.n++
	f.st += x
	f.sy += y
	f.stt += x * x
	f.sty += x * y
	f.last = y
}

// closed is the fit with the current bucket counted in (a copy: Result
// must not change the checker).
func (f *fit) closed() fit {
	c := *f
	if c.open {
		c.point(c.mid(c.bucket), c.min)
	}
	return c
}

// slope is the fitted slope per minute (0 with fewer than 3 points).
func (f *fit) slope() float64 {
	d := f.n*f.stt - f.st*f.st
	if f.n < 3 || d == 0 {
		return 0
	}
	return (f.n*f.sty - f.st*f.sy) / d * 60
}

// span is the time the fit covers: first sample to last.
func (f *fit) span() float64 {
	if f.n == 0 {
		return 0
	}
	return f.lastT - (f.t0 - f.width/2)
}

// ResourceGrowth is the resource-growth check (soak): after warmup, a
// least-squares slope over the minimum of each Bucket of each series — open connections per link (conn
// events, sampled at each server sample), the server's memory,
// subscriptions and slow consumers (server samples), and each sampled
// process's RSS, open files and goroutines (proc samples) — must stay under
// its bound per minute. A series shorter than MinDuration after warmup is
// not judged; a history with no series long enough has nothing to judge.
// Its memory is one fit per series, whatever the history's length.
type ResourceGrowth struct {
	named
	g       GrowthParams
	start   float64
	started bool
	open    map[string]int // link → connections open now
	series  map[string]*fit
}

// NewResourceGrowth returns the resource-growth checker.
func NewResourceGrowth(g GrowthParams) *ResourceGrowth {
	return &ResourceGrowth{named: "resource-growth", g: g.WithDefaults(), open: map[string]int{}, series: map[string]*fit{}}
}

func (c *ResourceGrowth) point(name, unit string, bound, scale, t, y float64) {
	f := c.series[name]
	if f == nil {
		f = &fit{unit: unit, bound: bound, scale: scale, width: c.g.Bucket.Seconds(), origin: c.start + c.g.Warmup.Seconds()}
		c.series[name] = f
	}
	f.add(t, y)
}

// Observe implements [Checker].
func (c *ResourceGrowth) Observe(e *history.Event) {
	if !c.started {
		c.start, c.started = e.T, true
	}
	if e.Kind == history.KindConn && e.Link != "" {
		switch e.Phase {
		case history.ConnOpen:
			c.open[e.Link]++
		case history.ConnClose:
			if e.Err != history.ConnOpenAtEnd {
				c.open[e.Link]--
			}
		}
	}
	if e.T < c.start+c.g.Warmup.Seconds() {
		return
	}
	const mb = 1 << 20
	switch e.Kind {
	case history.KindServer:
		c.point("server subscriptions", "subscriptions", c.g.Subscriptions, 1, e.T, float64(e.Subscriptions))
		c.point("server slow_consumers", "slow consumers", c.g.SlowConsumers, 1, e.T, float64(e.SlowConsumers))
		if e.Mem > 0 {
			c.point("server mem", "MB", c.g.MemMB, mb, e.T, float64(e.Mem))
		}
		for link, n := range c.open {
			c.point("connections "+link, "connections", c.g.Conns, 1, e.T, float64(n))
		}
	case history.KindProc:
		name := e.Name
		if name == "" {
			name = "process"
		}
		if e.RSS > 0 {
			c.point(name+" rss", "MB", c.g.MemMB, mb, e.T, float64(e.RSS))
		}
		if e.FDs > 0 {
			c.point(name+" fds", "open files", c.g.FDs, 1, e.T, float64(e.FDs))
		}
		if e.Goroutines > 0 {
			c.point(name+" goroutines", "goroutines", c.g.Goroutines, 1, e.T, float64(e.Goroutines))
		}
	}
}

// Result implements [Checker]. It does not change the checker: a soak
// calls it at every report interval.
func (c *ResourceGrowth) Result() Result {
	figs := map[string]float64{
		"warmup_seconds":       c.g.Warmup.Seconds(),
		"min_duration_seconds": c.g.MinDuration.Seconds(),
		"bucket_seconds":       c.g.Bucket.Seconds(),
	}
	names := make([]string, 0, len(c.series))
	for n := range c.series {
		names = append(names, n)
	}
	sort.Strings(names)
	var o offenses
	var judged []string
	for _, n := range names {
		f := c.series[n].closed()
		key := strings.ReplaceAll(n, " ", "_")
		if f.span() < c.g.MinDuration.Seconds() {
			continue
		}
		s := f.slope()
		figs[key+"_per_min"] = s
		figs[key+"_bound_per_min"] = f.bound
		figs[key+"_first"], figs[key+"_last"] = f.first, f.last
		judged = append(judged, n)
		if s > f.bound {
			o.add("", "", f.lastT, "%s grew %.2f %s/min over %.0fs (least squares over %ss minima; bound %.2f/min): %.1f → %.1f",
				n, s, f.unit, f.span(), strconv.FormatFloat(f.width, 'f', -1, 64), f.bound, f.first, f.last)
		}
	}
	if len(judged) == 0 {
		return c.nothing(fmt.Sprintf("no series spans %s after the %s warmup", c.g.MinDuration, c.g.Warmup), figs)
	}
	sum := fmt.Sprintf("%d series judged, none grew past its bound", len(judged))
	if o.n > 0 {
		sum = fmt.Sprintf("%d of %d series grew past their bound", o.n, len(judged))
	}
	return c.result(&o, figs, sum)
}
