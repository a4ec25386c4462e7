package check

import (
	"cmp"
	"math"
	"time"

	"github.com/natschaos/natschaos/history"
)

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
	// RestartBound is how long the API may be away at an api_restart (from
	// the fault's start) before failed liveness probes count; default 1 s.
	RestartBound time.Duration
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
	DefaultRestartBound  = time.Second
)

// Resolve returns p with every default filled in for a run whose config
// event is cfg (ack_wait, connect_timeout). A zero cfg leaves the defaults
// that depend on ack_wait at zero.
func (p Params) Resolve(cfg history.Event) Params {
	a := seconds(cfg.AckWait)
	p.Epsilon = cmp.Or(p.Epsilon, max(DefaultEpsilonMin, time.Duration(DefaultEpsilonFrac*float64(a))))
	p.MaxStall = cmp.Or(p.MaxStall, a/2)
	p.ProbeP99 = cmp.Or(p.ProbeP99, DefaultProbeP99)
	p.ProbeWindow = cmp.Or(p.ProbeWindow, DefaultProbeWindow)
	p.ConnectTimeout = cmp.Or(p.ConnectTimeout, seconds(cfg.ConnectTimeout))
	p.LeakGrace = cmp.Or(p.LeakGrace, DefaultLeakGrace)
	p.FloodRatio = cmp.Or(p.FloodRatio, DefaultFloodRatio)
	p.FloodSettle = cmp.Or(p.FloodSettle, DefaultFloodSettle)
	p.FloodBurst = cmp.Or(p.FloodBurst, DefaultFloodBurst)
	p.MaxRoundTrips = cmp.Or(p.MaxRoundTrips, DefaultMaxRoundTrips)
	p.CleanupBound = cmp.Or(p.CleanupBound, DefaultCleanupBound)
	p.RestartBound = cmp.Or(p.RestartBound, DefaultRestartBound)
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
		"restart_bound_seconds":   p.RestartBound.Seconds(),
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
