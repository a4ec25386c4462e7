// Package tcptest runs small TCP servers for tests on 127.0.0.1: an echo
// server, a black hole that accepts and never answers, and a forwarder
// that may delay what it carries. Each is closed when its test ends.
package tcptest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FreeAddr is a 127.0.0.1 host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

// Server accepts TCP connections and hands each to a handler. When the
// test ends it closes its listener and every connection it knows of, then
// waits for its goroutines.
type Server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// Serve listens on addr (host:port; "127.0.0.1:0" for any port) and runs
// handle on a goroutine of its own for every connection it accepts.
func Serve(t testing.TB, addr string, handle func(s *Server, c net.Conn)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	s := &Server{ln: ln}
	t.Cleanup(s.close)
	s.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.Track(c)
			s.Go(func() { handle(s, c) })
		}
	})
	return s
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Track makes the server close c when the test ends.
func (s *Server) Track(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
}

// Go runs f on a goroutine the server waits for when the test ends.
func (s *Server) Go(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Echo starts a server that sends back what it receives and returns its
// host:port.
func Echo(t testing.TB) string {
	t.Helper()
	return Serve(t, "127.0.0.1:0", func(_ *Server, c net.Conn) {
		_, _ = io.Copy(c, c)
		_ = c.Close()
	}).Addr()
}

// Blackhole starts a server that accepts connections and never answers
// (a half-open peer) and returns its host:port.
func Blackhole(t testing.TB) string {
	t.Helper()
	return Serve(t, "127.0.0.1:0", func(*Server, net.Conn) {}).Addr()
}

// Forward starts on listen (host:port) a forwarder to upstream (host:port)
// that delays every chunk by d in each direction (0: none), and returns its
// host:port. A connection whose upstream cannot be dialed is closed.
func Forward(t testing.TB, listen, upstream string, d time.Duration) string {
	t.Helper()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if d > 0 {
					time.Sleep(d) // the delay under test, not a wait
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = dst.Close()
				return
			}
		}
	}
	return Serve(t, listen, func(s *Server, c net.Conn) {
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			_ = c.Close()
			return
		}
		s.Track(u)
		s.Go(func() { pipe(u, c) })
		pipe(c, u)
	}).Addr()
}
