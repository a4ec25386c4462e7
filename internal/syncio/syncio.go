// Package syncio holds writers that are safe for concurrent use: a
// progress line drawn from its own goroutine shares stderr with the
// command's messages, and tests read what goroutines write.
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
func (l *Writer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
