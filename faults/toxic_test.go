package faults

import (
	"context"
	"io"
	"math/rand"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
)

// inject builds spec as window id on link and injects it into env.
func inject(t *testing.T, env Env, id, link string, spec Spec) Heal {
	t.Helper()
	f, err := spec.Build(id, link)
	require.NoError(t, err)
	heal, err := f.Inject(context.Background(), env)
	require.NoError(t, err)
	return heal
}

func TestLatencyDelaysRoundTrips(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)
	addr := addrs[LinkAPINATS]

	healthy := minRoundTrip(t, addr, 3)
	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "latency", Attrs: Attrs{"latency": "80ms", "direction": "both"}})
	slowed := minRoundTrip(t, addr, 3)
	require.NoError(t, heal(context.Background()))
	require.NoError(t, heal(context.Background()), "a heal may run twice")
	healed := minRoundTrip(t, addr, 3)

	t.Logf("round trip: healthy %s, latency %s, healed %s", healthy, slowed, healed)
	require.GreaterOrEqual(t, slowed, 150*time.Millisecond, "80ms each way")
	require.Less(t, healed, slowed/3)
}

// requireHealed heals and requires a round trip through addr again.
func requireHealed(t *testing.T, heal Heal, addr string) {
	t.Helper()
	require.NoError(t, heal(context.Background()))
	_, err := roundTrip(addr, 2*time.Second)
	require.NoError(t, err)
}

func TestDownRefusesAndHealRestores(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)
	addr := addrs[LinkAPINATS]

	open, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer open.Close()
	_, err = roundTrip(addr, time.Second)
	require.NoError(t, err)

	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "down"})
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "a down link refuses connections")
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = open.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "a down link closes open connections")

	require.NoError(t, heal(context.Background()))
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		_, err := roundTrip(addr, time.Second)
		return err
	})
}

func TestResetBreaksConnections(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkResultsNATS)
	addr := addrs[LinkResultsNATS]

	heal := inject(t, env, "f1", LinkResultsNATS, Spec{Name: "reset", Attrs: Attrs{"timeout": "0s"}})
	_, err := roundTrip(addr, 2*time.Second)
	require.Error(t, err)
	require.False(t, isTimeout(err), "reset must break the connection, not hold it: %v", err)
	requireHealed(t, heal, addr)
}

func TestBlackholeHoldsData(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)
	addr := addrs[LinkAPINATS]

	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "blackhole"})
	_, err := roundTrip(addr, 300*time.Millisecond)
	require.True(t, isTimeout(err), "a blackhole holds data and keeps the connection open: %v", err)
	requireHealed(t, heal, addr)
}

func TestTimeoutClosesAfterDelay(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)
	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "timeout", Attrs: Attrs{"timeout": "100ms"}})
	defer func() { require.NoError(t, heal(context.Background())) }()

	start := time.Now()
	_, err := roundTrip(addrs[LinkAPINATS], 3*time.Second)
	require.Error(t, err)
	require.False(t, isTimeout(err), "closed by the toxic, not by our deadline: %v", err)
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)
}

func TestToxicityZero(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)

	// toxicity 0 is sent as 0: the toxic never applies.
	heal := inject(t, env, "f1", LinkAPINATS, Spec{Name: "reset", Attrs: Attrs{"toxicity": "0"}})
	_, err := roundTrip(addrs[LinkAPINATS], 2*time.Second)
	require.NoError(t, err)
	require.NoError(t, heal(context.Background()))
}

func TestEveryToxicFaultInjectsAndHeals(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkWorkerAPI)
	for _, s := range []Spec{
		{Name: "latency", Attrs: Attrs{"latency": "1ms", "jitter": "1ms"}},
		{Name: "bandwidth", Attrs: Attrs{"rate": "1000", "direction": "both"}},
		{Name: "slow_close", Attrs: Attrs{"delay": "10ms"}},
		{Name: "slicer", Attrs: Attrs{"average_size": "1", "delay": "10us"}},
		{Name: "limit_data", Attrs: Attrs{"bytes": "1000"}},
	} {
		t.Run(s.Name, func(t *testing.T) {
			heal := inject(t, env, "w-"+s.Name, LinkWorkerAPI, s)
			_, err := roundTrip(addrs[LinkWorkerAPI], 2*time.Second)
			require.NoError(t, err)
			require.NoError(t, heal(context.Background()))
		})
	}
}

func TestProxiesHealAndStale(t *testing.T) {
	e, addrs := embedded(t, LinkAPINATS, LinkResultsNATS)
	env := &testEnv{proxies: e, rng: rand.New(rand.NewSource(1))}
	inject(t, env, "f1", LinkAPINATS, Spec{Name: "blackhole"})
	inject(t, env, "f2", LinkResultsNATS, Spec{Name: "down"})

	require.NoError(t, e.Heal(context.Background()))
	for l, a := range addrs {
		_, err := roundTrip(a, 2*time.Second)
		require.NoError(t, err, l)
	}
	err := e.AddToxic(context.Background(), "nope", Toxic{Name: "x", Type: "latency", Stream: "upstream", Toxicity: 1})
	require.ErrorIs(t, err, ErrNoProxy)
	err = e.AddToxic(context.Background(), LinkAPINATS, Toxic{Name: "x", Type: "latency", Stream: "upstream", Toxicity: 2.5})
	require.ErrorContains(t, err, "toxicity")
}

func TestToxicUnits(t *testing.T) {
	f, err := Spec{Name: "latency", Attrs: Attrs{"latency": "1.5s", "jitter": "20ms", "direction": "both", "toxicity": "0.25"}}.Build("f9", LinkAPINATS)
	require.NoError(t, err)
	ts, err := f.(toxicFault).Toxics()
	require.NoError(t, err)
	require.Equal(t, []Toxic{
		{Name: "f9-latency-upstream", Type: "latency", Stream: "upstream", Toxicity: 0.25, Attributes: map[string]any{"latency": int64(1500), "jitter": int64(20)}},
		{Name: "f9-latency-downstream", Type: "latency", Stream: "downstream", Toxicity: 0.25, Attributes: map[string]any{"latency": int64(1500), "jitter": int64(20)}},
	}, ts)

	f, err = Spec{Name: "slicer", Attrs: Attrs{"average_size": "64", "size_variation": "8", "delay": "2ms"}}.Build("f1", LinkAPINATS)
	require.NoError(t, err)
	ts, err = f.(toxicFault).Toxics()
	require.NoError(t, err)
	require.Equal(t, int64(2000), ts[0].Attributes["delay"], "the slicer's delay is in microseconds")
	require.Equal(t, "downstream", ts[0].Stream)
	require.Equal(t, float32(1), ts[0].Toxicity, "toxicity defaults to 1")

	f, err = Spec{Name: "blackhole"}.Build("f1", LinkAPINATS)
	require.NoError(t, err)
	ts, err = f.(toxicFault).Toxics()
	require.NoError(t, err)
	require.Len(t, ts, 2)
	require.Equal(t, "timeout", ts[0].Type)
	require.Equal(t, int64(0), ts[0].Attributes["timeout"])
}
