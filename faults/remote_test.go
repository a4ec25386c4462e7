package faults

import (
	"context"
	"math/rand"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/internal/tcptest"
)

// toxiproxyServer builds toxiproxy-server from the module cache, starts it
// on a random loopback port and returns its URL.
func toxiproxyServer(t *testing.T) string {
	t.Helper()
	slowtest.Skip(t, "not building and starting a real toxiproxy-server")
	bin := filepath.Join(t.TempDir(), "toxiproxy-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/Shopify/toxiproxy/v2/cmd/server").CombinedOutput()
	require.NoError(t, err, "go build toxiproxy-server: %s", out)

	host, port, err := net.SplitHostPort(tcptest.FreeAddr(t))
	require.NoError(t, err)
	cmd := exec.Command(bin, "-host", host, "-port", port)
	require.NoError(t, cmd.Start())
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	url := "http://" + net.JoinHostPort(host, port)
	c := toxiclient.NewClient(url)
	polltest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := c.Version()
		return err
	})
	return url
}

func TestRemoteBackend(t *testing.T) {
	url := toxiproxyServer(t)
	echo := echoServer(t)
	c := toxiclient.NewClient(url)

	// Someone else's proxy, and what a killed natschaos run left behind.
	other, err := c.CreateProxy("someone-else", "127.0.0.1:0", echo)
	require.NoError(t, err)
	_, err = other.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": 5})
	require.NoError(t, err)
	stale, err := c.CreateProxy(ProxyName("run1", LinkAPINATS), "127.0.0.1:0", echo)
	require.NoError(t, err)
	_, err = stale.AddToxic("old", "timeout", "downstream", 1, toxiclient.Attributes{"timeout": 0})
	require.NoError(t, err)
	require.NoError(t, stale.Disable())

	ctx := context.Background()
	r, err := NewRemote(ctx, url, "run1")
	require.NoError(t, err)
	got, err := c.Proxy(ProxyName("run1", LinkAPINATS))
	require.NoError(t, err)
	require.True(t, got.Enabled, "stale proxy re-enabled")
	require.Empty(t, got.ActiveToxics, "stale toxics removed")

	addr, err := r.Create(ctx, LinkAPINATS, "127.0.0.1:0", echo)
	require.NoError(t, err)
	require.Equal(t, got.Listen, addr, "a matching stale proxy is reused")

	env := &testEnv{proxies: r, rng: rand.New(rand.NewSource(1))}
	healthy := minRoundTrip(t, addr, 3)
	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "latency", Attrs: Attrs{"latency": "80ms", "toxicity": "1"}})
	slowed := minRoundTrip(t, addr, 3)
	require.NoError(t, heal(ctx))
	require.NoError(t, heal(ctx))
	healed := minRoundTrip(t, addr, 3)
	t.Logf("remote round trip: healthy %s, latency %s, healed %s", healthy, slowed, healed)
	require.GreaterOrEqual(t, slowed, 75*time.Millisecond)
	require.Less(t, healed, slowed/2)

	heal = inject(t, env, "f2", LinkAPINATS, Spec{Name: "down"})
	_, err = roundTrip(addr, 300*time.Millisecond)
	require.Error(t, err)
	require.NoError(t, heal(ctx))
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		_, err := roundTrip(addr, time.Second)
		return err
	})

	inject(t, env, "f3", LinkAPINATS, Spec{Name: "blackhole"})
	require.NoError(t, r.Close(ctx))
	_, err = c.Proxy(ProxyName("run1", LinkAPINATS))
	require.Error(t, err, "Close deletes the proxies it created")
	kept, err := c.Proxy("someone-else")
	require.NoError(t, err, "never touches a proxy without the prefix")
	require.Len(t, kept.ActiveToxics, 1)
}

// TestRemoteRunIDs: two runs with different run ids on one
// toxiproxy-server. Healing, cleaning up and closing one leaves the other's
// proxies and toxics untouched; a run with the same run id as a killed one
// removes the killed one's leftovers.
func TestRemoteRunIDs(t *testing.T) {
	url := toxiproxyServer(t)
	echo := echoServer(t)
	c := toxiclient.NewClient(url)
	ctx := context.Background()

	a, err := NewRemote(ctx, url, "runA")
	require.NoError(t, err)
	b, err := NewRemote(ctx, url, "runB")
	require.NoError(t, err)
	for _, r := range []*Remote{a, b} {
		_, err := r.Create(ctx, LinkAPINATS, "127.0.0.1:0", echo)
		require.NoError(t, err)
	}
	require.NoError(t, b.AddToxic(ctx, LinkAPINATS, Toxic{Name: "b-slow", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 50}}))
	require.NoError(t, b.SetEnabled(ctx, LinkAPINATS, false))
	require.NoError(t, a.AddToxic(ctx, LinkAPINATS, Toxic{Name: "a-slow", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 50}}))

	theirs := func() *toxiclient.Proxy {
		p, err := c.Proxy(ProxyName("runB", LinkAPINATS))
		require.NoError(t, err, "run B's proxy")
		return p
	}
	require.NoError(t, a.Heal(ctx))
	mine, err := c.Proxy(ProxyName("runA", LinkAPINATS))
	require.NoError(t, err)
	require.Empty(t, mine.ActiveToxics, "run A healed its own proxy")
	require.Len(t, theirs().ActiveToxics, 1, "run A's heal left run B's toxic")
	require.False(t, theirs().Enabled, "run A's heal left run B's proxy disabled")

	// Run A is killed with a toxic on; a new run A cleans it up, not B's.
	require.NoError(t, a.AddToxic(ctx, LinkAPINATS, Toxic{Name: "a-left", Type: "timeout", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"timeout": 0}}))
	a2, err := NewRemote(ctx, url, "runA")
	require.NoError(t, err)
	mine, err = c.Proxy(ProxyName("runA", LinkAPINATS))
	require.NoError(t, err)
	require.Empty(t, mine.ActiveToxics, "the leftover of the killed run A was removed by the next run A")
	require.Len(t, theirs().ActiveToxics, 1, "run A's clean-up left run B's toxic")

	_, err = a2.Create(ctx, LinkAPINATS, "127.0.0.1:0", echo)
	require.NoError(t, err)
	require.NoError(t, a2.Close(ctx))
	require.NoError(t, a.Close(ctx))
	_, err = c.Proxy(ProxyName("runA", LinkAPINATS))
	require.Error(t, err, "run A's proxy deleted")
	require.Len(t, theirs().ActiveToxics, 1, "run A's close left run B's toxic")
	require.Equal(t, "b-slow", theirs().ActiveToxics[0].Name)

	require.NoError(t, b.Close(ctx))
	_, err = c.Proxy(ProxyName("runB", LinkAPINATS))
	require.Error(t, err, "run B's proxy deleted by run B")
}

func TestValidRunID(t *testing.T) {
	for _, ok := range []string{"a", "run_1", "0123456789abcdef", "ABC"} {
		require.NoError(t, ValidRunID(ok), ok)
	}
	for _, bad := range []string{"", "a-b", "a.b", "a b", "é", "01234567890123456789012345678901234567890"} {
		require.Error(t, ValidRunID(bad), bad)
	}
	_, err := NewRemote(context.Background(), "http://127.0.0.1:1", "a-b")
	require.ErrorContains(t, err, "run id")
}
