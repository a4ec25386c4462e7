package faults

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll"
)

// toxiproxyServer builds toxiproxy-server from the module cache, starts it
// on a random loopback port and returns its URL.
func toxiproxyServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building and starting a real toxiproxy-server")
	}
	bin := filepath.Join(t.TempDir(), "toxiproxy-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/Shopify/toxiproxy/v2/cmd/server").CombinedOutput()
	require.NoError(t, err, "go build toxiproxy-server: %s", out)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	require.NoError(t, cmd.Start())
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := toxiclient.NewClient(url)
	poll.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
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
	stale, err := c.CreateProxy(ProxyPrefix+LinkAPINATS, "127.0.0.1:0", echo)
	require.NoError(t, err)
	_, err = stale.AddToxic("old", "timeout", "downstream", 1, toxiclient.Attributes{"timeout": 0})
	require.NoError(t, err)
	require.NoError(t, stale.Disable())

	ctx := context.Background()
	r, err := NewRemote(ctx, url)
	require.NoError(t, err)
	got, err := c.Proxy(ProxyPrefix + LinkAPINATS)
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
	poll.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		_, err := roundTrip(addr, time.Second)
		return err
	})

	inject(t, env, "f3", LinkAPINATS, Spec{Name: "blackhole"})
	require.NoError(t, r.Close(ctx))
	_, err = c.Proxy(ProxyPrefix + LinkAPINATS)
	require.Error(t, err, "Close deletes the proxies it created")
	kept, err := c.Proxy("someone-else")
	require.NoError(t, err, "never touches a proxy without the prefix")
	require.Len(t, kept.ActiveToxics, 1)
}
