// Package check holds the invariants of docs/invariants.md, one checker per file.
// A checker is a pure function of a history: it never reads the clock or the
// network. Checkers stream: [Run] reads a history once and feeds every event
// to every checker of [All], so that memory grows with the tasks in flight,
// not with the history's length.
package check

import (
	"strings"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

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
		NewPipeline(p),
		NewContract(p),
	}
}

// named is a checker's name, declared once: it answers [Checker.Name] and
// labels every [Result] the checker builds.
type named string

// Name implements [Checker].
func (n named) Name() string { return string(n) }

// base is what every checker shares: its name, its params and the run's config.
type base struct {
	named
	p      Params // as given
	r      Params // resolved once the config is seen
	cfg    history.Event
	hasCfg bool
	a, eps float64 // ack_wait and ε, seconds
	m      int     // max_deliver
	// on is the checker's own observe: every event but a config one.
	on func(e *history.Event)
}

// bind hands c's base the checker's own observe, for [base.Observe].
func bind[C interface {
	observe(e *history.Event)
	ownBase() *base
}](c C) C {
	c.ownBase().on = c.observe
	return c
}

func (b *base) ownBase() *base { return b }

// Observe implements [Checker]: the first config event is the run's
// settings, taken here for every checker; every other event goes to the
// checker's own observe.
func (b *base) Observe(e *history.Event) {
	if !b.config(e) {
		b.on(e)
	}
}

func newBase(name string, p Params) base {
	return base{named: named(name), p: p, r: p.Resolve(history.Event{})}
}

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

// entry returns m[k], storing a new zero value under k first if there is none.
func entry[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
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

// callStart is when an http call started (its event is written at its end).
func callStart(e *history.Event) float64 { return e.T - e.MS/1000 }

// isTerminal reports whether a job status is one that no task may be served after.
func isTerminal(status string) bool {
	return protocol.Terminal(strings.ToUpper(status))
}

// foreignOnly says whether a conn close event shows a connection that
// served only other jobs: requests or acks naming another job's stream, and
// none of the run's.
func foreignOnly(e *history.Event) bool {
	return e.Foreign > 0 && e.JSAPI == 0 && e.Pulls == 0 && e.Acks == 0 && e.Msgs == 0
}
