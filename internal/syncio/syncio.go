// Package syncio holds what makes I/O safe for concurrent use: writers
// (a progress line drawn from its own goroutine shares stderr with the
// command's messages, and tests read what goroutines write) and the closed
// flag of a Close that may be called more than once.
package syncio

import (
	"bytes"
	"io"
	"sync"
)

// Writer serializes writes to W.
type Writer struct {
	mu sync.Mutex
	W  io.Writer
}

// Write implements io.Writer.
func (l *Writer) Write(p []byte) (int, error) { return writeLocked(&l.mu, l.W, p) }

// Buffer is a bytes.Buffer safe for concurrent writes and reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) { return writeLocked(&s.mu, &s.b, p) }

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeLocked(mu *sync.Mutex, w io.Writer, p []byte) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	return w.Write(p)
}

// Closing sets *closed under mu and reports whether it was not set before:
// of the calls of a Close that may be called more than once, the one that
// must act.
func Closing(mu *sync.Mutex, closed *bool) bool {
	mu.Lock()
	defer mu.Unlock()
	if *closed {
		return false
	}
	*closed = true
	return true
}
