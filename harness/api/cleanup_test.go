package api

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll"
)

// forwardOn starts, on addr (a URL nats://host:port where nothing listens
// yet), a TCP forwarder to upstream: the results link coming back.
func forwardOn(t testing.TB, addr, upstream string) {
	t.Helper()
	ln, err := net.Listen("tcp", strings.TrimPrefix(addr, "nats://"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", strings.TrimPrefix(upstream, "nats://"))
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// TestCleanupRetried: a cancel whose cleanup fails while the results link
// is down answers 503 and leaves the job CANCELING; once the link is back
// the processor's background retry deletes the stream and the job becomes
// REVOKED, without another cancel.
func TestCleanupRetried(t *testing.T) {
	down := refused(t)
	e := newEnv(t, nil, func(c *Config) { c.ResultsNATSURL = down })
	id := e.createJob(3, true)
	e.publish(id, 3)
	code, _ := e.do("POST", fmt.Sprintf("/api/v2/jobs/%d/cancel/", id), testToken, nil, 5*time.Second)
	require.Equal(t, 503, code)
	require.True(t, e.streamExists(id))
	forwardOn(t, down, e.nats.ClientURL())
	poll.CheckFor(t, 2*cleanupRetryFirst+3*time.Second, 20*time.Millisecond, func() error {
		if e.streamExists(id) {
			return fmt.Errorf("stream %s still exists", StreamName(id))
		}
		if j, _ := e.api.Job(id); j.Status != StatusRevoked {
			return fmt.Errorf("job %s", j.Status)
		}
		return nil
	})
	require.Equal(t, []string{StatusStarted, StatusCanceling, StatusRevoked}, e.sink.jobStatuses(id))
	poll.CheckFor(t, 2*time.Second, 20*time.Millisecond, func() error {
		if n := e.api.Stats().Open; n != 0 {
			return fmt.Errorf("%d connections open", n)
		}
		return nil
	})
}
