package report

import (
	"math"
	"regexp"
	"sort"
	"strconv"

	"github.com/natschaos/natschaos/history"
)

// The classes of a /tasks call in the timeline, by what its caller got.
const (
	class200     = iota // 2xx
	class503            // 503: the fast "NATS is not there" answer
	classOther          // any other status
	classNone           // no answer: timeout, reset, refused, ...
	classesCount        // how many classes there are
)

var classNames = [classesCount]string{"s200", "s503", "sother", "snone"}

// pointsPerCell is how many /tasks calls the timeline keeps per time bucket
// and class: the slowest ones, so that a long history draws in bounded
// memory and the tail stays visible.
const pointsPerCell = 16

// maxBuckets bounds the time buckets of a timeline.
const maxBuckets = 60

// call is one /tasks call of the timeline.
type call struct {
	start, ms float64
	status    int
	err       string
	worker    string
	batch, n  int
}

// bucket aggregates the events of one time interval.
type bucket struct {
	handouts, results, acks int
	ackPending, pending     int
	consumer                bool // a consumer sample fell in it
	serverConns             int
	server                  bool // a server sample fell in it
	calls                   [classesCount][]call
}

// linkConns follows the connections open on one link.
type linkConns struct {
	open   int
	series []int // highest open count per bucket; -1 = no event in it
}

// window is a fault window, a stall or a phase span, in seconds.
type window struct {
	ID, Name, Link string
	Start, End     float64
	Open           bool // never ended in the history
}

// timeline is what one pass over a history keeps for the charts: per time
// bucket aggregates, never per event (apart from the calls kept per bucket).
type timeline struct {
	width        float64 // bucket width, seconds
	buckets      []bucket
	last         float64 // time of the last event
	calls        int     // /tasks calls seen
	kept         int     // /tasks calls kept (pointsPerCell per bucket and class)
	httpTimeout  float64 // the workers' /tasks timeout, seconds (0 = unknown)
	faults       []window
	faultIdx     map[string]int
	phases       []window
	links        map[string]*linkConns
	connEvents   bool
	consumerSeen bool
}

// bucketWidths are the widths a timeline may use, seconds.
var bucketWidths = []float64{0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600}

func newTimeline(duration float64) *timeline {
	w := bucketWidths[len(bucketWidths)-1]
	for _, bw := range bucketWidths {
		if duration/bw <= maxBuckets {
			w = bw
			break
		}
	}
	return &timeline{width: w, faultIdx: map[string]int{}, links: map[string]*linkConns{}}
}

// at returns the bucket of time t, growing the timeline when needed (a
// history longer than its report said, or no duration known).
func (tl *timeline) at(t float64) int {
	if t < 0 || math.IsNaN(t) {
		t = 0
	}
	i := int(t / tl.width)
	if i > 100*maxBuckets { // a wild time, far past the report's duration: the last bucket, not unbounded growth
		i = 100 * maxBuckets
	}
	for len(tl.buckets) <= i {
		tl.buckets = append(tl.buckets, bucket{})
	}
	return i
}

// observe folds one event into the timeline.
func (tl *timeline) observe(e *history.Event) {
	if !math.IsNaN(e.T) && e.T > tl.last {
		tl.last = e.T
	}
	switch e.Kind {
	case history.KindConfig:
		if tl.httpTimeout == 0 {
			tl.httpTimeout = e.WorkerHTTPTimeout
		}
	case history.KindHandout:
		tl.buckets[tl.at(e.T)].handouts++
	case history.KindResult:
		tl.buckets[tl.at(e.T)].results++
	case history.KindAck:
		tl.buckets[tl.at(e.T)].acks++
	case history.KindConsumer:
		b := &tl.buckets[tl.at(e.T)]
		b.ackPending = max(b.ackPending, e.NumAckPending)
		b.pending = max(b.pending, int(min(e.NumPending, math.MaxInt32)))
		b.consumer, tl.consumerSeen = true, true
	case history.KindServer:
		b := &tl.buckets[tl.at(e.T)]
		b.serverConns = max(b.serverConns, e.Connections)
		b.server = true
	case history.KindConn:
		tl.conn(e)
	case history.KindHTTP:
		if !e.IsTasksCall() {
			return
		}
		tl.call(e)
	case history.KindFault:
		tl.fault(e)
	case history.KindPhase:
		if n := len(tl.phases); n > 0 && tl.phases[n-1].End < e.T {
			tl.phases[n-1].End = e.T
		}
		tl.phases = append(tl.phases, window{Name: e.Name, Start: e.T, End: e.T})
	}
}

func (tl *timeline) call(e *history.Event) {
	tl.calls++
	c := call{start: max(0, e.T-e.MS/1000), ms: e.MS, status: e.Status, err: e.Err, worker: e.Worker, batch: e.Batch, n: e.N}
	k := classOther
	switch {
	case e.Status == 0:
		k = classNone
	case e.Status >= 200 && e.Status < 300:
		k = class200
	case e.Status == 503:
		k = class503
	}
	b := &tl.buckets[tl.at(c.start)]
	cs := b.calls[k]
	if len(cs) < pointsPerCell {
		b.calls[k] = append(cs, c)
		tl.kept++
		return
	}
	low := 0 // keep the slowest: replace the fastest kept when this one is slower
	for i := range cs {
		if cs[i].ms < cs[low].ms {
			low = i
		}
	}
	if c.ms > cs[low].ms {
		cs[low] = c
	}
}

func (tl *timeline) conn(e *history.Event) {
	if e.Link == "" {
		return
	}
	tl.connEvents = true
	lc := tl.links[e.Link]
	if lc == nil {
		lc = &linkConns{}
		tl.links[e.Link] = lc
	}
	switch e.Phase {
	case history.ConnOpen:
		lc.open++
	case history.ConnClose:
		lc.open = max(0, lc.open-1)
	default:
		return
	}
	i := tl.at(e.T)
	for len(lc.series) <= i {
		lc.series = append(lc.series, -1)
	}
	lc.series[i] = max(lc.series[i], lc.open)
}

func (tl *timeline) fault(e *history.Event) {
	id := e.ID
	if id == "" {
		id = e.Name + "@" + e.Link
	}
	i, ok := tl.faultIdx[id]
	switch e.Phase {
	case "start":
		if ok && tl.faults[i].Open {
			return
		}
		tl.faultIdx[id] = len(tl.faults)
		tl.faults = append(tl.faults, window{ID: e.ID, Name: e.Name, Link: e.Link, Start: e.T, Open: true})
	case "end":
		if ok && tl.faults[i].Open {
			tl.faults[i].End, tl.faults[i].Open = e.T, false
		}
	}
}

// finish closes what is still open at the history's end.
func (tl *timeline) finish() {
	tl.at(tl.last)
	for i := range tl.faults {
		if tl.faults[i].Open {
			tl.faults[i].End = tl.last
		}
	}
	if n := len(tl.phases); n > 0 && tl.phases[n-1].End < tl.last {
		tl.phases[n-1].End = tl.last
	}
	// Carry each link's open count forward through buckets without events.
	for _, lc := range tl.links {
		for len(lc.series) < len(tl.buckets) {
			lc.series = append(lc.series, -1)
		}
		prev := 0
		for i, v := range lc.series {
			if v < 0 {
				lc.series[i] = prev
			} else {
				prev = v
			}
		}
	}
}

// linkNames are the links with connection events, sorted.
func (tl *timeline) linkNames() []string {
	var out []string
	for l := range tl.links {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// stallSpan reads the span of a stall offense ("stalled 3.639s (2.023s–5.662s): ...").
var stallSpan = regexp.MustCompile(`\((\d+(?:\.\d+)?)s[–-](\d+(?:\.\d+)?)s\)`)

// stalls are the stall check's offending stalls (the first few it kept).
func (r *Report) stalls() []window {
	var out []window
	for _, c := range r.Checks {
		if c.Name != "stall" {
			continue
		}
		for _, o := range c.Offending {
			m := stallSpan.FindStringSubmatch(o.Detail)
			if m == nil {
				continue
			}
			a, err1 := strconv.ParseFloat(m[1], 64)
			b, err2 := strconv.ParseFloat(m[2], 64)
			if err1 == nil && err2 == nil && b > a {
				out = append(out, window{Name: "stall", Start: a, End: b})
			}
		}
	}
	return out
}
