// Package check holds the invariants of docs/invariants.md, one checker per file.
// A checker is a pure function of a history: it never reads the clock or the
// network. Checkers stream: [Run] reads a history once and feeds every event
// to every checker of [All], so that memory grows with the tasks in flight,
// not with the history's length.
package check

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/harness/ackreply"
)

// Checker is one invariant, judged over a stream of events.
//
// Observe is called once per event, in history order; the event is only
// valid during the call (a checker copies what it keeps). Result is called
// once, after the last event.
type Checker interface {
	// Name is the check's name in docs/invariants.md ("no-loss", "stall", ...).
	Name() string
	// Observe feeds the next event of the history.
	Observe(e *history.Event)
	// Result is the verdict over every event observed.
	Result() Result
}

// Check runs c over a history held in memory and returns its result.
func Check(c Checker, events []history.Event) Result {
	for i := range events {
		c.Observe(&events[i])
	}
	return c.Result()
}

// MaxOffenses is how many offending events a [Result] lists at most; the
// count of every violation is in Result.Violations.
const MaxOffenses = 5

// Offense is one offending delivery or event, for a report to point at.
type Offense struct {
	Task   string  `json:"task,omitempty"`
	Reply  string  `json:"reply,omitempty"`
	T      float64 `json:"t"` // seconds since the run's start
	Detail string  `json:"detail"`
}

// Result is a checker's verdict.
type Result struct {
	Name string
	// OK is true (held), false (violated) or nil (unknown: Why says what was
	// missing to decide).
	OK         *bool
	Violations int
	Summary    string // one line
	Why        string // why the verdict is unknown; empty otherwise
	Offending  []Offense
	// Figures are the measures behind the verdict (lost, orphaned,
	// stall_seconds, ...): seconds for times, counts otherwise.
	Figures map[string]float64
}

// Passed reports whether the check held (false for unknown).
func (r Result) Passed() bool { return r.OK != nil && *r.OK }

// Failed reports whether the check was violated (false for unknown).
func (r Result) Failed() bool { return r.OK != nil && !*r.OK }

// Unknown reports whether the checker could not decide.
func (r Result) Unknown() bool { return r.OK == nil }

// String is a one-line rendering: "name: ok|FAIL|unknown (n) summary".
func (r Result) String() string {
	v := "unknown"
	switch {
	case r.Passed():
		v = "ok"
	case r.Failed():
		v = "FAIL"
	}
	s := fmt.Sprintf("%s: %s (%d) %s", r.Name, v, r.Violations, r.Summary)
	if r.Why != "" && !strings.Contains(r.Summary, r.Why) {
		s += " [" + r.Why + "]"
	}
	return s
}

// NothingToJudge is the summary of a check that passed because the run gave
// it nothing to judge (a fact about the run, not missing evidence).
const NothingToJudge = "nothing to judge"

func boolp(b bool) *bool { return &b }

// result builds a Result with the verdict decided by violations.
func result(name string, o *offenses, figs map[string]float64, summary string) Result {
	return Result{Name: name, OK: boolp(o.n == 0), Violations: o.n, Summary: summary, Offending: o.list, Figures: figs}
}

func unknown(name, why string, figs map[string]float64) Result {
	return Result{Name: name, Summary: "unknown: " + why, Why: why, Figures: figs}
}

func nothing(name, why string, figs map[string]float64) Result {
	s := NothingToJudge
	if why != "" {
		s += ": " + why
	}
	return Result{Name: name, OK: boolp(true), Summary: s, Figures: figs}
}

// offenses counts violations and keeps the first MaxOffenses of them.
type offenses struct {
	n    int
	list []Offense
}

func (o *offenses) add(task, reply string, t float64, format string, a ...any) {
	o.n++
	if len(o.list) < MaxOffenses {
		o.list = append(o.list, Offense{Task: task, Reply: reply, T: t, Detail: fmt.Sprintf(format, a...)})
	}
}

// Params are the tolerances of the checks. The zero value means every
// default; [Params.Resolve] fills them in from the run's config, and the
// report states the resolved values.
type Params struct {
	// Epsilon is ε, the timing tolerance; default max(100 ms, 5 % of A).
	Epsilon time.Duration
	// ExpectOrphaned is how many orphaned deliveries a run may have (default 0).
	ExpectOrphaned int
	// MaxStall is the longest stall allowed; default A/2.
	MaxStall time.Duration
	// ProbeP99 bounds the liveness probe's p99 in every ProbeWindow; default 250 ms.
	ProbeP99 time.Duration
	// ProbeWindow is the window over which probe p99s are taken; default 10 s.
	ProbeWindow time.Duration
	// ExpectDuplicates, when set, is how many tasks may be processed more
	// than once (results for more than one delivery); nil: not limited.
	ExpectDuplicates *int
	// ExpectLateAcks makes ack-in-time report late acks without failing.
	ExpectLateAcks bool
	// ConnectTimeout is the API's NATS connect timeout; default: the
	// config event's connect_timeout.
	ConnectTimeout time.Duration
	// LeakGrace is how long after the run's last API request and ack (or
	// the end of the drain, if later) every connection on a NATS link must
	// be closed; default 2 s.
	LeakGrace time.Duration
	// FloodRatio bounds the connection attempts on each NATS link per unit
	// of work that needs one (API requests, results acked or tried, job
	// changes); default 2 (room for one retry).
	FloodRatio float64
	// FloodSettle is how long after a unit of work (an API request's end, a
	// result, an ack, a job change) a connection attempt is still explained
	// by it, and the window of a reconnect storm; default 2 s.
	FloodSettle time.Duration
	// FloodBurst is how many unexplained connection attempts on one link
	// within FloodSettle make a reconnect storm; default 3.
	FloodBurst int
	// MaxRoundTrips bounds the mean JetStream API requests per /tasks
	// call, counted on the api-nats connections that pulled; default 10.
	MaxRoundTrips float64
	// CleanupBound is how long after the job became SUCCESS, FAILURE or
	// REVOKED (or after a fault still active then ended) its stream and
	// consumer may still exist; default 2 s.
	CleanupBound time.Duration
}

// Defaults of [Params].
const (
	DefaultEpsilonMin    = 100 * time.Millisecond
	DefaultEpsilonFrac   = 0.05
	DefaultProbeP99      = 250 * time.Millisecond
	DefaultProbeWindow   = 10 * time.Second
	DefaultLeakGrace     = 2 * time.Second
	DefaultFloodRatio    = 2
	DefaultFloodSettle   = 2 * time.Second
	DefaultFloodBurst    = 3
	DefaultMaxRoundTrips = 10
)

// Resolve returns p with every default filled in for a run whose config
// event is cfg (ack_wait, connect_timeout). A zero cfg leaves the defaults
// that depend on ack_wait at zero.
func (p Params) Resolve(cfg history.Event) Params {
	a := seconds(cfg.AckWait)
	if p.Epsilon == 0 {
		p.Epsilon = max(DefaultEpsilonMin, time.Duration(DefaultEpsilonFrac*float64(a)))
	}
	if p.MaxStall == 0 {
		p.MaxStall = a / 2
	}
	if p.ProbeP99 == 0 {
		p.ProbeP99 = DefaultProbeP99
	}
	if p.ProbeWindow == 0 {
		p.ProbeWindow = DefaultProbeWindow
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = seconds(cfg.ConnectTimeout)
	}
	if p.LeakGrace == 0 {
		p.LeakGrace = DefaultLeakGrace
	}
	if p.FloodRatio == 0 {
		p.FloodRatio = DefaultFloodRatio
	}
	if p.FloodSettle == 0 {
		p.FloodSettle = DefaultFloodSettle
	}
	if p.FloodBurst == 0 {
		p.FloodBurst = DefaultFloodBurst
	}
	if p.MaxRoundTrips == 0 {
		p.MaxRoundTrips = DefaultMaxRoundTrips
	}
	if p.CleanupBound == 0 {
		p.CleanupBound = DefaultCleanupBound
	}
	return p
}

// Table lists the tolerances as the report states them: seconds for
// durations, plain numbers otherwise. Call it on resolved Params.
func (p Params) Table() map[string]float64 {
	m := map[string]float64{
		"epsilon_seconds":         p.Epsilon.Seconds(),
		"expect_orphaned":         float64(p.ExpectOrphaned),
		"max_stall_seconds":       p.MaxStall.Seconds(),
		"probe_p99_seconds":       p.ProbeP99.Seconds(),
		"probe_window_seconds":    p.ProbeWindow.Seconds(),
		"connect_timeout_seconds": p.ConnectTimeout.Seconds(),
		"leak_grace_seconds":      p.LeakGrace.Seconds(),
		"flood_ratio":             p.FloodRatio,
		"flood_settle_seconds":    p.FloodSettle.Seconds(),
		"flood_burst":             float64(p.FloodBurst),
		"max_round_trips":         p.MaxRoundTrips,
		"cleanup_bound_seconds":   p.CleanupBound.Seconds(),
	}
	if p.ExpectDuplicates != nil {
		m["expect_duplicates"] = float64(*p.ExpectDuplicates)
	}
	if p.ExpectLateAcks {
		m["expect_late_acks"] = 1
	}
	return m
}

func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// All returns a fresh instance of every checker, in docs/invariants.md order.
func All(p Params) []Checker {
	return []Checker{
		NewNoLoss(p),
		NewMaxDeliver(p),
		NewDuplicates(p),
		NewRedeliveryTiming(p),
		NewAckInTime(p),
		NewOrphaned(p),
		NewStall(p),
		NewTasksLatency(p),
		NewFast503(p),
		NewLiveness(p),
		NewConnectionLeak(p),
		NewConnectionFlood(p),
		NewRoundTrips(p),
		NewTerminalGuard(p),
		NewAckPendingBound(p),
		NewWorkersSeen(p),
		NewJobConsistency(p),
		NewResourceCleanup(p),
		NewContract(p),
	}
}

// base is what every checker shares: its params and the run's config.
type base struct {
	p      Params // as given
	r      Params // resolved once the config is seen
	cfg    history.Event
	hasCfg bool
	a, eps float64 // ack_wait and ε, seconds
	m      int     // max_deliver
}

func newBase(p Params) base { return base{p: p, r: p.Resolve(history.Event{})} }

// config takes the first config event; it reports whether e was one.
func (b *base) config(e *history.Event) bool {
	if e.Kind != history.KindConfig {
		return false
	}
	if !b.hasCfg {
		b.hasCfg = true
		b.cfg = *e
		b.r = b.p.Resolve(*e)
		b.a = e.AckWait
		b.eps = b.r.Epsilon.Seconds()
		b.m = e.MaxDeliver
	}
	return true
}

const whyNoConfig = "no config event: ack_wait and max_deliver unknown"

// own reports whether an advisory is about the run's own consumer: matched
// on (stream, consumer), never on the sequence number alone, so that another
// stream's advisory for the same sseq accounts for nothing. A side that
// does not say (an advisory without stream or consumer, from an older
// history, or a config without them) is not compared.
func (b *base) own(e *history.Event) bool {
	differ := func(a, c string) bool { return a != "" && c != "" && a != c }
	return !differ(e.Stream, b.cfg.Stream) && !differ(e.ConsumerName, b.cfg.ConsumerName)
}

// sseqOf is a delivery's stream sequence: its sseq field, else the one its
// reply subject carries ($JS.ACK.<stream>.<consumer>.<dc>.<sseq>...).
func sseqOf(e *history.Event) uint64 {
	if e.SSeq != 0 || e.Reply == "" {
		return e.SSeq
	}
	if m, err := ackreply.Parse(e.Reply); err == nil {
		return m.SSeq
	}
	return 0
}

// isTasks reports whether an http event is a /tasks call of a worker.
func isTasks(e *history.Event) bool {
	return e.Kind == history.KindHTTP && e.Worker != history.ProbeWorker && strings.Contains(e.Path, "/tasks")
}

// jobOfPath is the job id of an API path ".../jobs/{id}/..."; ok is false
// when the path names none.
func jobOfPath(path string) (int64, bool) {
	_, rest, ok := strings.Cut(path, "/jobs/")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}

// callStart is when an http call started (its event is written at its end).
func callStart(e *history.Event) float64 { return e.T - e.MS/1000 }

// isTerminal reports whether a job status is one that no task may be served after.
func isTerminal(status string) bool {
	switch strings.ToUpper(status) {
	case "CANCELING", "REVOKED", "SUCCESS", "FAILURE":
		return true
	}
	return false
}

// Link and fault names the checkers recognise.
const (
	linkAPINATS     = "api-nats"
	linkResultsNATS = "results-nats"
)

// unreachable reports whether a fault makes NATS unreachable from the API:
// down, blackhole, reset or timeout on api-nats, or a NATS restart.
func unreachable(name, link string) bool {
	switch name {
	case "nats_restart", "nats_pause":
		return true
	case "down", "blackhole", "reset", "timeout":
		return link == linkAPINATS
	}
	return false
}

// window is a fault window; end is +Inf while the fault lasts.
type window struct {
	id, name, link string
	start, end     float64
}

// windows tracks fault windows matching a predicate.
type windows struct {
	match func(name, link string) bool
	list  []window
}

func (w *windows) observe(e *history.Event) {
	if e.Kind != history.KindFault {
		return
	}
	switch e.Phase {
	case "start":
		if w.match(e.Name, e.Link) {
			w.list = append(w.list, window{id: e.ID, name: e.Name, link: e.Link, start: e.T, end: math.Inf(1)})
		}
	case "end":
		for i := range w.list {
			if w.list[i].id == e.ID && math.IsInf(w.list[i].end, 1) {
				w.list[i].end = e.T
				return
			}
		}
	}
}

// overlaps reports whether [from, to] meets any window.
func (w *windows) overlaps(from, to float64) bool {
	for _, x := range w.list {
		if from <= x.end && to >= x.start {
			return true
		}
	}
	return false
}

// quantile returns the q-quantile (0..1) of xs, sorting xs in place.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// msHist is a streaming histogram of milliseconds at 1 ms resolution up to
// 120 s, for quantiles whose memory does not grow with the history.
type msHist struct {
	counts []uint32
	over   []float64 // beyond the last bucket: rare, kept exactly
	n      int
}

const histMax = 120_000

func (h *msHist) add(ms float64) {
	if h.counts == nil {
		h.counts = make([]uint32, histMax)
	}
	h.n++
	if ms < 0 {
		ms = 0
	}
	if ms >= histMax {
		h.over = append(h.over, ms)
		return
	}
	h.counts[int(ms)]++
}

// quantile returns an upper bound (to 1 ms) of the q-quantile.
func (h *msHist) quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	seen := 0
	for i, c := range h.counts {
		seen += int(c)
		if seen >= rank {
			return float64(i + 1)
		}
	}
	over := append([]float64(nil), h.over...)
	sort.Float64s(over)
	return over[max(0, min(rank-seen-1, len(over)-1))]
}

// sortOffenses orders offenses by time, then task (map iteration is random).
func sortOffenses(o []Offense) {
	sort.Slice(o, func(i, j int) bool {
		if o[i].T != o[j].T {
			return o[i].T < o[j].T
		}
		return o[i].Task < o[j].Task
	})
}

// foreignOnly says whether a conn close event shows a connection that
// served only other jobs: requests or acks naming another job's stream, and
// none of the run's.
func foreignOnly(e *history.Event) bool {
	return e.Foreign > 0 && e.JSAPI == 0 && e.Pulls == 0 && e.Acks == 0 && e.Msgs == 0
}
