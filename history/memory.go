package history

import (
	"sync"
	"time"
)

// Memory is a Sink that keeps every event in memory, stamping T with the
// seconds since NewMemory when an event has none: the sink of tests, and of
// Go tests that drive the harness next to the code they protect. Safe for
// concurrent use.
type Memory struct {
	start  time.Time
	mu     sync.Mutex
	events []Event
}

// NewMemory returns an empty Memory whose clock starts now.
func NewMemory() *Memory { return &Memory{start: time.Now()} }

// Emit implements Sink.
func (m *Memory) Emit(e Event) {
	if e.T == 0 {
		e.T = time.Since(m.start).Seconds()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
}

// Events returns a copy of every event so far, in the order they came.
func (m *Memory) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

// Of returns the events of kind so far, in the order they came.
func (m *Memory) Of(kind Kind) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
