package check

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/natschaos/natschaos/history"
)

// Results are the verdicts of every checker over one history, with what the
// run itself looked like.
type Results struct {
	Checks []Result
	// Assumptions lists why the run cannot be judged because the harness
	// could not drive load (no config, no publish, the workers never asked
	// for tasks): a harness problem, not a verdict on the system. Empty when
	// the run can be judged. A system that answered every /tasks call with
	// an error or a timeout is judged: it fails the checks it breaks.
	Assumptions []string
	// Ended says that the history has its end phase (the run was not cut
	// short).
	Ended bool
	// Warnings are what the reader skipped (a torn last line).
	Warnings []string
	// Params are the tolerances used, resolved against the config.
	Params Params
	// Config is the run's config event (zero if there was none).
	Config history.Event
	// Events is how many events were read.
	Events int
	// Duration is the time of the last event, seconds.
	Duration float64
	// Faults are the fault windows of the run, in start order.
	Faults []Fault
	// Foreign is how many events of other jobs the observers dropped at
	// the source (foreign events, and the foreign count of conn closes).
	Foreign int
	// FaultEffect says whether every fault acted on something (see
	// [FaultEffect]); unknown makes the run inconclusive.
	FaultEffect Result
}

// Fault is one fault window of a run.
type Fault struct {
	ID, Name, Link string
	Start          float64 // seconds since the run's start
	End            float64 // seconds; meaningless when Open
	Open           bool    // never ended in the history
}

// Judged reports whether the run could be judged (no assumption failed).
func (rs Results) Judged() bool { return len(rs.Assumptions) == 0 }

// Inconclusive lists why a judged run can still not pass: its history has
// no end phase (the run was killed), or no-loss could not decide (tasks
// still in flight when the drain was cut short, say). Empty otherwise.
func (rs Results) Inconclusive() []string {
	var why []string
	if !rs.Ended {
		why = append(why, "the history has no end phase: the run was cut short")
	}
	if r, ok := rs.Get("no-loss"); ok && r.Unknown() {
		why = append(why, "no-loss could not decide: "+r.Why)
	}
	if r := rs.FaultEffect; r.Name != "" && r.Unknown() {
		why = append(why, "a fault acted on nothing, so the run proves nothing about it: "+r.Why)
	}
	return why
}

// Failed lists the checks that were violated.
func (rs Results) Failed() []Result {
	var out []Result
	for _, r := range rs.Checks {
		if r.Failed() {
			out = append(out, r)
		}
	}
	return out
}

// Get returns the result of the named check.
func (rs Results) Get(name string) (Result, bool) {
	for _, r := range rs.Checks {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// RunFile is [Run] over the history at path: a .jsonl file, a .jsonl.zst
// file or a directory of segments ([history.Open]).
func RunFile(path string, p Params) (Results, error) {
	r, c, err := history.Open(path)
	if err != nil {
		return Results{}, err
	}
	defer c.Close()
	rs, err := Run(r, p)
	if le := (*history.LineError)(nil); errors.As(err, &le) {
		if le.File == "" {
			le.File = path // file:line: what
		}
		return rs, le
	}
	if err != nil {
		return rs, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// Run reads the whole history from r once and feeds every event to every
// checker of [All] — the checkers of one job only the events of their job,
// each job of a history of several judged on its own and the verdicts folded
// into one per check (see jobScope). Decoding runs on its own goroutine, a
// batch ahead of the checkers, which themselves run in two groups on two more goroutines: each
// checker still sees every event, in order, from one goroutine. A malformed
// line stops the run with the reader's error (a *history.LineError naming
// the line).
func Run(r *history.Reader, p Params) (Results, error) {
	checkers := All(p)
	info := newRunInfo(p)
	effect := NewFaultEffect(p)
	// The checkers of one job judge each job of the history on its own
	// (jobScope), one scope per group.
	groups := [][]observer{{info, effect}, {}}
	scoped := [][]Checker{nil, nil}
	for _, c := range checkers {
		g := group(c)
		if jobScoped(c) {
			scoped[g] = append(scoped[g], c)
		} else {
			groups[g] = append(groups[g], c)
		}
	}
	scopes := make([]*jobScope, len(scoped))
	for g, cs := range scoped {
		fresh := func() []Checker {
			var out []Checker
			for _, c := range All(p) {
				if jobScoped(c) && group(c) == g {
					out = append(out, c)
				}
			}
			return out
		}
		scopes[g] = newJobScope(cs, fresh)
		groups[g] = append(groups[g], scopes[g])
	}
	err := fanOut(r, groups)
	rs := info.results()
	rs.Warnings = append(rs.Warnings, r.Warnings()...)
	if err != nil {
		return rs, err
	}
	for _, c := range checkers {
		res := c.Result()
		if jobScoped(c) {
			res = scopes[group(c)].fold(res)
		}
		rs.Checks = append(rs.Checks, res)
	}
	rs.FaultEffect = effect.Result()
	return rs, nil
}

// group is the goroutine of Run that feeds c: two groups of about equal
// cost (the checkers that keep per-task or per-delivery maps are the
// expensive ones).
func group(c Checker) int {
	switch c.(type) {
	case *AckInTime, *Stall, *RedeliveryTiming, *Fast503, *Liveness, *TasksLatency:
		return 1
	}
	return 0
}

type observer interface{ Observe(e *history.Event) }

const batchSize = 1024

type batch struct {
	events []history.Event
	left   atomic.Int32 // groups that have not seen it yet
}

// fanOut decodes r on a goroutine in batches and feeds every batch, in
// order, to every group of observers, each group on its own goroutine.
func fanOut(r *history.Reader, groups [][]observer) error {
	const pool = 8
	free := make(chan *batch, pool)
	for range pool {
		free <- &batch{events: make([]history.Event, 0, batchSize)}
	}
	chans := make([]chan *batch, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		chans[i] = make(chan *batch, pool)
		wg.Add(1)
		go func(ch <-chan *batch, g []observer) {
			defer wg.Done()
			for b := range ch {
				for j := range b.events {
					e := &b.events[j]
					for _, o := range g {
						o.Observe(e)
					}
				}
				if b.left.Add(-1) == 0 {
					free <- b
				}
			}
		}(chans[i], g)
	}
	var rerr error
	for done := false; !done; {
		b := <-free
		b.events = b.events[:0]
		for len(b.events) < batchSize {
			e, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					rerr = err
				}
				done = true
				break
			}
			b.events = append(b.events, e)
		}
		if len(b.events) == 0 {
			free <- b
			continue
		}
		b.left.Store(int32(len(groups)))
		for _, ch := range chans {
			ch <- b
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	return rerr
}

// runInfo watches what the run was, and whether it can be judged at all.
type runInfo struct {
	p         Params
	events    int
	last      float64
	cfg       history.Event
	hasCfg    bool
	published int
	calls     int // the workers' /tasks calls, answered or not
	ended     bool
	faults    []Fault
	foreign   int
}

func newRunInfo(p Params) *runInfo { return &runInfo{p: p} }

func (ri *runInfo) Observe(e *history.Event) {
	ri.events++
	ri.last = max(ri.last, e.T)
	switch e.Kind {
	case history.KindConfig:
		if !ri.hasCfg {
			ri.hasCfg, ri.cfg = true, *e
		}
	case history.KindPublish:
		ri.published++
	case history.KindForeign:
		ri.foreign += e.N
	case history.KindConn:
		if e.Phase == history.ConnClose {
			ri.foreign += e.Foreign
		}
	case history.KindHTTP:
		if e.IsTasksCall() {
			ri.calls++
		}
	case history.KindPhase:
		ri.ended = ri.ended || e.Name == history.PhaseEnd
	case history.KindFault:
		switch e.Phase {
		case "start":
			ri.faults = append(ri.faults, Fault{ID: e.ID, Name: e.Name, Link: e.Link, Start: e.T, Open: true})
		case "end":
			for i := range ri.faults {
				if ri.faults[i].ID == e.ID && ri.faults[i].Open {
					ri.faults[i].End, ri.faults[i].Open = e.T, false
					break
				}
			}
		}
	}
}

func (ri *runInfo) results() Results {
	rs := Results{Config: ri.cfg, Events: ri.events, Duration: ri.last, Faults: ri.faults, Ended: ri.ended, Foreign: ri.foreign}
	rs.Params = ri.p.Resolve(ri.cfg)
	if ri.events == 0 {
		rs.Assumptions = append(rs.Assumptions, "the history is empty")
		return rs
	}
	// Only what says the harness could not drive load: a system that
	// answered every call with an error, a timeout or nothing is judged
	// on the checks it breaks.
	if !ri.hasCfg {
		rs.Assumptions = append(rs.Assumptions, "no config event: ack_wait and max_deliver were never read from the consumer")
	}
	if ri.published == 0 {
		rs.Assumptions = append(rs.Assumptions, "no publish event: no task was ever stored in the stream")
	}
	if ri.calls == 0 {
		rs.Assumptions = append(rs.Assumptions, "no /tasks call: the workers never asked for tasks")
	}
	return rs
}
