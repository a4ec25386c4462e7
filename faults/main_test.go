package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/internal/tcptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer starts a TCP echo server on 127.0.0.1:0 and returns its address.
func echoServer(t testing.TB) string { return tcptest.Echo(t) }

// roundTrip dials addr, sends one byte and reads it back, within limit.
func roundTrip(addr string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(limit))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// isTimeout says whether err is a net.Error that timed out: a deadline
// of the test's ran out, rather than a connection the proxy closed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// minRoundTrip is the fastest of n round trips.
func minRoundTrip(t testing.TB, addr string, n int) time.Duration {
	t.Helper()
	best := time.Hour
	for range n {
		d, err := roundTrip(addr, 5*time.Second)
		require.NoError(t, err)
		best = min(best, d)
	}
	return best
}

// testEnv is an Env over whatever a test gives it.
type testEnv struct {
	proxies Proxies
	http    *HTTPRules
	proc    Process
	taps    Taps
	rng     *rand.Rand
}

func (e *testEnv) Proxies() Proxies { return e.proxies }
func (e *testEnv) HTTP() *HTTPRules { return e.http }
func (e *testEnv) Process() Process { return e.proc }
func (e *testEnv) Rand() *rand.Rand { return e.rng }
func (e *testEnv) Taps() Taps       { return e.taps }

// embedded starts an Embedded with one proxy per link in front of an echo
// server and returns it with the proxies' addresses.
func embedded(t testing.TB, links ...string) (*Embedded, map[string]string) {
	t.Helper()
	e, err := NewEmbedded()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close(context.Background())) })
	echo := echoServer(t)
	addrs := map[string]string{}
	for _, l := range links {
		a, err := e.Create(context.Background(), l, "127.0.0.1:0", echo)
		require.NoError(t, err)
		addrs[l] = a
	}
	return e, addrs
}

// embeddedEnv is an Env of embedded proxies on links (see embedded) and a
// seeded rng, with the proxies' addresses.
func embeddedEnv(t testing.TB, links ...string) (*testEnv, map[string]string) {
	t.Helper()
	e, addrs := embedded(t, links...)
	return &testEnv{proxies: e, rng: rand.New(rand.NewSource(1))}, addrs
}

// fakeProcess records the process faults it is asked for.
type fakeProcess struct {
	mu    sync.Mutex
	calls []string
	crash func() bool
}

func (p *fakeProcess) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
}

func (p *fakeProcess) RestartNATS(_ context.Context, node int, kill bool) error {
	p.record(fmt.Sprintf("restart %d %v", node, kill))
	return nil
}

func (p *fakeProcess) PauseNATS(ctx context.Context, node int, d time.Duration) error {
	p.record(fmt.Sprintf("pause %d %s", node, d))
	select {
	case <-ctx.Done():
		p.record("resumed early")
	case <-time.After(d):
		p.record("resumed")
	}
	return nil
}

func (p *fakeProcess) CrashWorker(_ context.Context, after string) error {
	if after != AfterReceive && after != AfterProcess {
		return errors.New("bad point")
	}
	p.record("crash worker " + after)
	return nil
}

func (p *fakeProcess) SetProcessorCrash(crash func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.crash = crash
}

func (p *fakeProcess) CancelJob(context.Context) error  { p.record("cancel"); return nil }
func (p *fakeProcess) CreateJob(context.Context) error  { p.record("create"); return nil }
func (p *fakeProcess) RestartAPI(context.Context) error { p.record("restart-api"); return nil }

func (p *fakeProcess) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}
