package history

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Sink receives events as they happen. Observers, workers and the reference
// API emit into a Sink; they never judge. Emit must be safe for concurrent
// use and must not block for long.
type Sink interface {
	// Emit records e. The sink stamps e.T with its own clock when e.T is 0.
	Emit(e Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// FlushEvery is how often a [Recorder] flushes to disk at the latest.
const FlushEvery = time.Second

// Recorder is the Sink of a run: it stamps each event with the seconds since
// the run's start (monotonic clock) and streams it as one JSON line to its
// writer, flushed at least every [FlushEvery], so that a run killed half-way
// leaves a history that can still be checked. The caller must Close it.
type Recorder struct {
	start time.Time

	mu     sync.Mutex
	w      *bufio.Writer
	under  io.Writer // what w writes to
	closer io.Closer
	buf    []byte
	err    error
	count  int
	tap    func(Event)

	stop chan struct{}
	done chan struct{}
}

// Create opens (truncating) the file at path and returns a Recorder writing to it.
func Create(path string, start time.Time) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	return NewRecorder(f, start), nil
}

// NewRecorder returns a Recorder writing to w; Close closes w when it is an
// io.Closer. start is the run's start: every event's T counts from it.
func NewRecorder(w io.Writer, start time.Time) *Recorder {
	r := &Recorder{
		start: start,
		w:     bufio.NewWriterSize(w, 64<<10),
		under: w,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if c, ok := w.(io.Closer); ok {
		r.closer = c
	}
	go r.flushLoop()
	return r
}

// Start is the instant every event's T counts from.
func (r *Recorder) Start() time.Time { return r.start }

// Since returns the seconds elapsed since the run's start, as event times are.
func (r *Recorder) Since() float64 { return time.Since(r.start).Seconds() }

// Tap sets a function called with every event after it is written (a live
// progress line, a streaming checker). It must be fast; nil removes it.
func (r *Recorder) Tap(f func(Event)) {
	r.mu.Lock()
	r.tap = f
	r.mu.Unlock()
}

// Emit implements Sink. A write error is kept and returned by Close; the
// events after it are dropped (the history is then known to be incomplete).
func (r *Recorder) Emit(e Event) {
	if e.T == 0 {
		e.T = time.Since(r.start).Seconds()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	r.buf = e.AppendJSON(r.buf[:0])
	r.buf = append(r.buf, '\n')
	if _, err := r.w.Write(r.buf); err != nil {
		r.err = fmt.Errorf("write history: %w", err)
		return
	}
	r.count++
	if r.tap != nil {
		r.tap(e)
	}
}

// Count returns how many events were written so far.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Flush writes buffered events to the underlying writer.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		if err := r.w.Flush(); err != nil {
			r.err = fmt.Errorf("flush history: %w", err)
		} else if s, ok := r.under.(*segments); ok {
			if err := s.flush(); err != nil {
				r.err = fmt.Errorf("flush history: %w", err)
			}
		}
	}
	return r.err
}

func (r *Recorder) flushLoop() {
	defer close(r.done)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			_ = r.Flush() // the error is kept and returned by Close
		}
	}
}

// Close flushes, stops the flusher and closes the underlying writer. It
// returns the first write error, if any. Emit after Close is dropped.
func (r *Recorder) Close() error {
	select {
	case <-r.stop:
		return nil
	default:
	}
	close(r.stop)
	<-r.done
	err := r.Flush()
	r.mu.Lock()
	if r.err == nil {
		r.err = errClosed
	}
	r.mu.Unlock()
	if r.closer != nil {
		if cerr := r.closer.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close history: %w", cerr)
		}
	}
	return err
}

var errClosed = fmt.Errorf("history recorder closed")
