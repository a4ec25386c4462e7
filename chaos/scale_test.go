package chaos

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
)

const scaleYAML = `name: scaled
description: every kind of duration a scenario holds
proves: scaling
seed: 3
sut:
  ack_wait: 2s
  max_deliver: 3
  max_ack_pending: 50
  connect_timeout: 500ms
  op_timeout: 1s
  fetch_wait: 400ms
workload:
  tasks: 100
  workers: 2
  batch_size: 12
  http_timeout: 1500ms
  process_time: 20ms
  idle_sleep: 200ms
warmup: 1s
chaos: 6s
faults:
  - at: 500ms
    for: 2s
    every: 3s
    link: api-nats
    latency: {latency: 15ms, jitter: 5ms, direction: both, toxicity: 0.5}
  - at: 1s
    link: results-nats
    reset: {timeout: 0s}
  - at: 2s
    http_status: {code: 503, path: /tasks/, probability: 0.25}
  - at: 4s
    worker_crash: {after: process}
nemesis:
  faults:
    - link: api-nats
      timeout: {timeout: 100ms}
  interval: [300ms, 1500ms]
  duration: [500ms, 2s]
expect:
  orphaned: 7
  max_stall: 3s
  probe_p99: 300ms
  tolerance: 150ms
  cleanup_bound: 5s
`

// TestScale: every duration of a scenario is stretched, nothing else is.
func TestScale(t *testing.T) {
	sc, err := ParseScenario("scaled.yaml", []byte(scaleYAML))
	require.NoError(t, err)
	const f = 150
	got := sc.Scale(f)
	require.NoError(t, got.Validate())
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond * f }
	for _, tc := range []struct {
		field string
		got   any
		want  any
	}{
		{"warmup", got.Warmup, ms(1000)},
		{"chaos", got.Chaos, ms(6000)},
		{"sut.ack_wait", got.SUT.AckWait, 300 * time.Second},
		{"sut.connect_timeout", got.SUT.ConnectTimeout, ms(500)},
		{"sut.op_timeout", got.SUT.OpTimeout, ms(1000)},
		{"sut.fetch_wait", got.SUT.FetchWait, ms(400)},
		{"workload.http_timeout", got.Workload.HTTPTimeout, ms(1500)},
		{"workload.process_time", got.Workload.ProcessTime, ms(20)},
		{"workload.idle_sleep", got.Workload.IdleSleep, ms(200)},
		{"expect.max_stall", got.Expect.MaxStall, ms(3000)},
		{"expect.probe_p99", got.Expect.ProbeP99, ms(300)},
		{"expect.tolerance", got.Expect.Tolerance, ms(150)},
		{"expect.cleanup_bound", got.Expect.CleanupBound, ms(5000)},
		{"faults[0].at", got.Faults[0].At, ms(500)},
		{"faults[0].for", got.Faults[0].For, ms(2000)},
		{"faults[0].every", got.Faults[0].Every, ms(3000)},
		{"faults[0].latency.latency", got.Faults[0].Fault.Attrs["latency"], ms(15).String()},
		{"faults[0].latency.jitter", got.Faults[0].Fault.Attrs["jitter"], ms(5).String()},
		{"faults[1].at", got.Faults[1].At, ms(1000)},
		{"faults[2].at", got.Faults[2].At, ms(2000)},
		{"faults[3].at", got.Faults[3].At, ms(4000)},
		{"nemesis.interval", got.Nemesis.Interval, faults.Range{Min: ms(300), Max: ms(1500)}},
		{"nemesis.duration", got.Nemesis.Duration, faults.Range{Min: ms(500), Max: ms(2000)}},
		{"nemesis.faults[0].timeout.timeout", got.Nemesis.Faults[0].Fault.Attrs["timeout"], ms(100).String()},
		// Not durations: left as written.
		{"faults[0].latency.direction", got.Faults[0].Fault.Attrs["direction"], "both"},
		{"faults[0].latency.toxicity", got.Faults[0].Fault.Attrs["toxicity"], "0.5"},
		{"faults[1].reset.timeout (zero)", got.Faults[1].Fault.Attrs["timeout"], "0s"},
		{"faults[2].http_status", got.Faults[2].Fault.Attrs, faults.Attrs{"code": "503", "path": "/tasks/", "probability": "0.25"}},
		{"faults[3].worker_crash.after", got.Faults[3].Fault.Attrs["after"], "process"},
		{"sut.max_deliver", got.SUT.MaxDeliver, 3},
		{"sut.max_ack_pending", got.SUT.MaxAckPending, 50},
		{"workload.tasks", got.Workload.Tasks, 100},
		{"workload.batch_size", got.Workload.BatchSize, 12},
		{"expect.orphaned", got.Expect.Orphaned, 7},
		{"seed", got.Seed, int64(3)},
	} {
		require.Equal(t, tc.want, tc.got, tc.field)
	}
	// The original is untouched (faults and nemesis are copied, not shared).
	require.Equal(t, "15ms", sc.Faults[0].Fault.Attrs["latency"])
	require.Equal(t, 300*time.Millisecond, sc.Nemesis.Interval.Min)
	require.Equal(t, "100ms", sc.Nemesis.Faults[0].Fault.Attrs["timeout"])
	// Scaling by 1 changes nothing.
	require.Equal(t, sc, sc.Scale(1))
}

// TestPrepareTimeScale: the resolved scenario, as scenario.yaml records
// it, holds the scaled values, defaults included; a bad factor is a usage
// error.
func TestPrepareTimeScale(t *testing.T) {
	sc, err := ParseScenario("scaled.yaml", []byte(scaleYAML))
	require.NoError(t, err)
	sc.SUT.FetchWait = 0 // unset: its default is stretched too
	got, _, err := Prepare(sc, RunOptions{TimeScale: 2})
	require.NoError(t, err)
	require.Equal(t, 4*time.Second, got.SUT.AckWait)
	require.Equal(t, 2*DefaultFetchWait, got.SUT.FetchWait)
	require.Nil(t, got.Nemesis, "resolved")
	want := sc.WithDefaults().Scale(2).Resolve(rand.New(rand.NewSource(sc.Seed)))
	require.Equal(t, want.Faults, got.Faults, "the nemesis is drawn from the scaled ranges")

	path := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, WriteScenarioFile(path, got))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), "ack_wait: 4s")
	back, err := LoadScenario(path)
	require.NoError(t, err)
	require.Equal(t, got.SUT, back.SUT)
	require.Equal(t, got.Faults, back.Faults)

	for _, f := range []float64{-1, 1001} {
		_, _, err := Prepare(sc, RunOptions{TimeScale: f})
		require.True(t, IsUsage(err), "%v", err)
	}
}

// TestParamsFromExpect: the checkers' tolerances are the expect block's.
func TestParamsFromExpect(t *testing.T) {
	sc, err := ParseScenario("scaled.yaml", []byte(scaleYAML))
	require.NoError(t, err)
	p := sc.Params()
	require.Equal(t, 7, p.ExpectOrphaned)
	require.Equal(t, 3*time.Second, p.MaxStall)
	require.Equal(t, 300*time.Millisecond, p.ProbeP99)
	require.Equal(t, 150*time.Millisecond, p.Epsilon)
	require.Equal(t, 5*time.Second, p.CleanupBound)
	require.Equal(t, 2*time.Second, Scenario{}.Params().Resolve(history.Event{}).CleanupBound, "the default")
}
