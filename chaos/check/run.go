package check

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/natschaos/natschaos/chaos/history"
)

// Results are the verdicts of every checker over one history, with what the
// run itself looked like.
type Results struct {
	Checks []Result
	// Assumptions lists why the run cannot be judged (no config, no
	// publish, the load never really started): a harness problem, not a
	// verdict on the system. Empty when the run can be judged.
	Assumptions []string
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

// RunFile is [Run] over the history file at path.
func RunFile(path string, p Params) (Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return Results{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	rs, err := Run(history.NewReader(f), p)
	if err != nil {
		return rs, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// Run reads the whole history from r once and feeds every event to every
// checker of [All]. Decoding runs on its own goroutine, a batch ahead of the
// checkers. A malformed line stops the run with the reader's error (a
// *history.LineError naming the line).
func Run(r *history.Reader, p Params) (Results, error) {
	checkers := All(p)
	info := newRunInfo(p)
	err := decodeAhead(r, func(e *history.Event) {
		info.observe(e)
		for _, c := range checkers {
			c.Observe(e)
		}
	})
	rs := info.results()
	rs.Warnings = append(rs.Warnings, r.Warnings()...)
	if err != nil {
		return rs, err
	}
	for _, c := range checkers {
		rs.Checks = append(rs.Checks, c.Result())
	}
	return rs, nil
}

const batchSize = 512

// decodeAhead decodes r on a second goroutine in batches and calls f for
// every event, in order, on the calling goroutine.
func decodeAhead(r *history.Reader, f func(*history.Event)) error {
	full := make(chan []history.Event, 4)
	free := make(chan []history.Event, 6)
	for range 6 {
		free <- make([]history.Event, 0, batchSize)
	}
	stop := make(chan struct{})
	var rerr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(full)
		for {
			var b []history.Event
			select {
			case b = <-free:
			case <-stop:
				return
			}
			b = b[:0]
			for len(b) < batchSize {
				e, err := r.Next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						rerr = err
					}
					if len(b) > 0 {
						full <- b
					}
					return
				}
				b = append(b, e)
			}
			full <- b
		}
	}()
	for b := range full {
		for i := range b {
			f(&b[i])
		}
		free <- b
	}
	close(stop)
	wg.Wait()
	return rerr
}

// runInfo watches what the run was, and whether it can be judged at all.
type runInfo struct {
	p          Params
	events     int
	last       float64
	cfg        history.Event
	hasCfg     bool
	published  map[string]struct{}
	started    map[string]struct{} // tasks handed out before the first fault
	firstFault float64
	faults     []Fault
}

func newRunInfo(p Params) *runInfo {
	return &runInfo{p: p, published: map[string]struct{}{}, started: map[string]struct{}{}, firstFault: math.Inf(1)}
}

func (ri *runInfo) observe(e *history.Event) {
	ri.events++
	ri.last = max(ri.last, e.T)
	switch e.Kind {
	case history.KindConfig:
		if !ri.hasCfg {
			ri.hasCfg, ri.cfg = true, *e
		}
	case history.KindPublish:
		if e.Task != "" {
			if _, ok := ri.published[e.Task]; !ok {
				ri.published[e.Task] = struct{}{}
			}
		}
	case history.KindReserve, history.KindHandout, history.KindResult, history.KindStored:
		if e.Task != "" && e.T < ri.firstFault {
			if _, ok := ri.started[e.Task]; !ok {
				ri.started[e.Task] = struct{}{}
			}
		}
	case history.KindFault:
		switch e.Phase {
		case "start":
			ri.firstFault = min(ri.firstFault, e.T)
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
	rs := Results{Config: ri.cfg, Events: ri.events, Duration: ri.last, Faults: ri.faults}
	rs.Params = ri.p.Resolve(ri.cfg)
	if ri.events == 0 {
		rs.Assumptions = append(rs.Assumptions, "the history is empty")
		return rs
	}
	if !ri.hasCfg {
		rs.Assumptions = append(rs.Assumptions, "no config event: ack_wait and max_deliver were never read from the consumer")
	}
	if len(ri.published) == 0 {
		rs.Assumptions = append(rs.Assumptions, "no publish event: no task was ever stored in the stream")
	} else if min := rs.Params.MinStarted; min > 0 {
		// Tasks are counted as started when some delivery of them was
		// seen (reserve, handout, result or stored) before the first fault.
		started := 0
		for t := range ri.started {
			if _, ok := ri.published[t]; ok {
				started++
			}
		}
		frac := float64(started) / float64(len(ri.published))
		if frac < min {
			when := "in the whole run"
			if !math.IsInf(ri.firstFault, 1) {
				when = fmt.Sprintf("before the first fault (t=%.3fs)", ri.firstFault)
			}
			rs.Assumptions = append(rs.Assumptions, fmt.Sprintf(
				"only %d of %d published tasks (%.0f%%) were handed out %s, want ≥ %.0f%%: the run never really started",
				started, len(ri.published), 100*frac, when, 100*min))
		}
	}
	return rs
}
