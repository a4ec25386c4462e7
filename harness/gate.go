package harness

import (
	"sync"

	"github.com/natschaos/natschaos/history"
)

// Gate is a history.Sink that holds every event back until Open, then
// writes the opening event first and the held ones after it, in order,
// with the times they happened at. External mode needs it: the config event
// must come first (several checkers judge nothing before it), but the API
// of a real deployment creates the consumer it is read from only on the
// first /tasks call, when workers, prober and observers are already
// recording. After Open the gate passes events straight through.
type Gate struct {
	sink  history.Sink
	clock func() float64 // seconds since the run's start, as event times are

	mu   sync.Mutex
	open bool
	held []history.Event
}

// NewGate returns a closed gate in front of sink; clock stamps the events
// it holds (for a Recorder, its Since).
func NewGate(sink history.Sink, clock func() float64) *Gate {
	return &Gate{sink: sink, clock: clock}
}

// Emit implements history.Sink.
func (g *Gate) Emit(e history.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		g.sink.Emit(e)
		return
	}
	if e.T == 0 {
		e.T = g.clock()
	}
	g.held = append(g.held, e)
}

// Open writes first, then every held event, and lets events through from
// then on. first is stamped with the time of the earliest held event (or
// now), so that times never go backwards in the history. A second Open
// only emits first.
func (g *Gate) Open(first history.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open && first.T == 0 {
		first.T = g.clock()
		if len(g.held) > 0 {
			first.T = min(first.T, g.held[0].T)
		}
	}
	g.sink.Emit(first)
	g.release()
}

// IsOpen reports whether Open was called.
func (g *Gate) IsOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// Release writes the held events without an opening event and lets events
// through from then on: the way out of a run whose config never came, so
// that its history keeps what happened (the checkers then say that it
// cannot be judged). A no-op on an open gate.
func (g *Gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.release()
}

// release writes the held events (none once open) and opens the gate; g.mu
// is held.
func (g *Gate) release() {
	for _, e := range g.held {
		g.sink.Emit(e)
	}
	g.held, g.open = nil, true
}
