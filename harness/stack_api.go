package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/natschaos/natschaos/harness/api"
)

// MaxAPIStop bounds how long an api_restart waits for the old API to stop
// before it starts the new one anyway (the old one's goroutines are then
// left to end on their own): a correct API stops in milliseconds, since
// stopping aborts its NATS work in progress; one that waits for that work,
// or never stops, keeps the API down that long, which the liveness check
// fails.
const MaxAPIStop = 10 * time.Second

// API returns the embedded stack's reference API (the one serving now: an
// api_restart replaces it).
func (s *Stack) API() *api.API {
	a, _ := s.current()
	return a
}

// current is the API serving now and the channel closed when its Serve
// returns.
func (s *Stack) current() (*api.API, chan struct{}) {
	s.apiMu.Lock()
	defer s.apiMu.Unlock()
	return s.sut, s.apiServed
}

// serveAPI makes a the stack's API and serves it on ln until it closes.
func (s *Stack) serveAPI(a *api.API, ln net.Listener) {
	served := make(chan struct{})
	s.apiMu.Lock()
	s.sut, s.apiServed = a, served
	s.apiMu.Unlock()
	go func() {
		defer close(served)
		if err := a.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api stopped", "err", err)
		}
	}()
}

// closeAPI closes the API serving now and waits for its Serve to return.
func (s *Stack) closeAPI() {
	a, served := s.current()
	a.Close()
	<-served
}

// RestartAPI stops the reference API as its process would stop on a deploy
// or a recycle — no new connection, every request in progress and every NATS
// operation aborted, queued results dropped (NATS redelivers them), every
// NATS connection closed — and starts a new one on the same address with
// what outlives a process: the jobs ([api.API.Restarted]). It waits for the
// old API to stop up to [MaxAPIStop], and returns how long the stop took.
func (s *Stack) RestartAPI(ctx context.Context) (time.Duration, error) {
	old, served := s.current()
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		old.Close()
		<-served
		close(stopped)
	}()
	t := time.NewTimer(MaxAPIStop)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.log.Warn("api restart: the old API did not stop; starting the new one anyway", "waited", MaxAPIStop)
	case <-ctx.Done():
		return time.Since(start), fmt.Errorf("restart api: %w", ctx.Err())
	}
	took := time.Since(start)
	next, err := old.Restarted()
	if err != nil {
		return took, fmt.Errorf("restart api: %w", err)
	}
	// The old server closed its listener first thing, so the address is
	// free; the proxies and the prober keep pointing at it.
	ln, err := net.Listen("tcp", s.apiLn.Addr().String())
	if err != nil {
		next.Close()
		return took, fmt.Errorf("restart api: listen again on %s: %w", s.apiLn.Addr(), err)
	}
	s.serveAPI(next, ln)
	return took, nil
}
