package check

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/natschaos/natschaos/history"
)

// ConnectionLeak is the connection-leak check, judged by link from the
// conn events: once the run's work ended — the last API request (http
// events other than the liveness probe), result and ack, or the end of the
// drain (the end phase) if that is later — plus Params.LeakGrace (default
// 2 s), no connection is open on a NATS link. A connection is open then
// when it opened before that point and closed after it, or never closed:
// its close is the one the tap writes at the run's end, marked "open at
// end". Only what was observed after the drain is judged, so a run of a
// second or two still catches a leak (the run waits for its NATS links to
// have no connection open, or for the grace to pass, before it ends).
//
// A connection whose close shows it served only other jobs (foreign
// requests and nothing of the run's) is not judged: on a shared API it is
// another job's.
//
// Unknown without conn events, without an end phase, or when connections
// were still open at the history's end but the history ends before the
// grace ran out. The server's connections (lowest during warmup, last
// sample) are reported as cross-check figures, never the verdict.
type ConnectionLeak struct {
	base
	seen      bool
	lastWork  float64
	end       float64 // first end phase; +Inf before
	lastT     float64
	open      map[connKey]float64 // open connections → when they opened
	late      []lateClose         // closes that came after the work so far plus the grace
	links     map[string]int      // link → connections opened
	phase     string
	warmup    int
	hasWarm   bool
	lastConns int
	samples   int
}

type connKey struct {
	link string
	id   uint64
}

// lateClose is a connection that closed after the grace of the work seen
// so far: leaked if it opened before the final grace point and closed
// after it.
type lateClose struct {
	connKey
	opened, closed float64
	atEnd          bool // closed by the tap at the run's end
}

// NewConnectionLeak returns the connection-leak checker.
func NewConnectionLeak(p Params) *ConnectionLeak {
	return bind(&ConnectionLeak{base: newBase("connection-leak", p), end: math.Inf(1), open: map[connKey]float64{}, links: map[string]int{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *ConnectionLeak) observe(e *history.Event) {
	c.lastT = math.Max(c.lastT, e.T)
	grace := c.r.LeakGrace.Seconds()
	switch e.Kind {
	case history.KindHTTP:
		if e.Worker != history.ProbeWorker {
			c.lastWork = math.Max(c.lastWork, e.T)
		}
	case history.KindResult, history.KindAck:
		c.lastWork = math.Max(c.lastWork, e.T)
	case history.KindPhase:
		c.phase = e.Name
		if e.Name == history.PhaseEnd && math.IsInf(c.end, 1) {
			c.end = e.T
		}
	case history.KindConn:
		c.seen = true
		k := connKey{e.Link, e.ConnID}
		switch e.Phase {
		case history.ConnOpen:
			c.open[k] = e.T
			c.links[e.Link]++
		case history.ConnClose:
			opened, ok := c.open[k]
			if !ok {
				opened = e.T // its open was not recorded: as if it opened now
			}
			delete(c.open, k)
			if foreignOnly(e) {
				c.links[e.Link]--
				break // another job's connection: not this run's to close
			}
			// A close within the grace of the work seen so far is within
			// the final grace too (the grace point only moves later) —
			// unless the client did not close it: the run's end did.
			if atEnd := e.Err == history.ConnOpenAtEnd; atEnd || e.T > c.lastWork+grace {
				c.late = append(c.late, lateClose{connKey: k, opened: opened, closed: e.T, atEnd: atEnd})
			}
		}
	case history.KindServer:
		c.samples++
		c.lastConns = e.Connections
		if c.phase == history.PhaseWarmup && (!c.hasWarm || e.Connections < c.warmup) {
			c.warmup, c.hasWarm = e.Connections, true
		}
	}
}

// Result implements [Checker].
func (c *ConnectionLeak) Result() Result {
	figs := map[string]float64{}
	if c.hasWarm {
		figs["server_connections_warmup"] = float64(c.warmup) // cross-check only
	}
	if c.samples > 0 {
		figs["server_connections_last"] = float64(c.lastConns)
	}
	for l, n := range c.links {
		figs["connections_"+l] = float64(n)
	}
	switch {
	case !c.seen:
		return c.unknown("no conn events (no recording tap on the NATS links)", figs)
	case math.IsInf(c.end, 1):
		return c.unknown("the run never reached the end phase", figs)
	}
	grace := c.r.LeakGrace.Seconds()
	at := math.Max(c.lastWork, c.end) + grace
	figs["grace_point_seconds"] = at
	// Connections the history never closed are open at its end.
	leaks := map[string]int{}
	var o offenses
	openAtEnd, undecided := 0, 0
	leak := func(k connKey, opened float64, still string) {
		leaks[k.link]++
		o.add("", "", opened, "%s connection %d opened at %.3fs %s, %.1fs after the last request and ack (%.3fs)",
			k.link, k.id, opened, still, grace, math.Max(c.lastWork, c.end))
	}
	for _, l := range c.late {
		switch {
		case l.opened > at:
			continue // opened after the grace point: nothing asked for it, but not a leak of the run's work
		case l.atEnd:
			openAtEnd++
			if l.closed < at {
				undecided++
				continue
			}
			leak(l.connKey, l.opened, "was still open at the run's end")
		case l.closed > at:
			leak(l.connKey, l.opened, fmt.Sprintf("closed only at %.3fs", l.closed))
		}
	}
	keys := make([]connKey, 0, len(c.open))
	for k := range c.open {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].link != keys[j].link {
			return keys[i].link < keys[j].link
		}
		return keys[i].id < keys[j].id
	})
	for _, k := range keys {
		opened := c.open[k]
		if opened > at {
			continue
		}
		openAtEnd++
		if c.lastT < at {
			undecided++
			continue
		}
		leak(k, opened, "never closed")
	}
	figs["open_at_end"] = float64(openAtEnd)
	var parts []string
	for l, n := range leaks {
		figs["leaked_"+l] = float64(n)
		parts = append(parts, fmt.Sprintf("%s %d", l, n))
	}
	sort.Strings(parts)
	sortOffenses(o.list)
	if o.n == 0 && undecided > 0 {
		return c.unknown(fmt.Sprintf("%d connections open when the history ends at %.3fs, before the grace point %.3fs", undecided, c.lastT, at), figs)
	}
	summary := fmt.Sprintf("no connection open on a NATS link %.1fs after the last request and ack", grace)
	if o.n > 0 {
		summary = fmt.Sprintf("connections open %.1fs after the last request and ack: %s", grace, strings.Join(parts, ", "))
	}
	return c.result(&o, figs, summary)
}
