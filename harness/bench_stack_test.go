package harness_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// The benchmarks of the README, "Figures" for the embedded stack:
//
//	go test -run '^$' -bench 'StackReady|RawJetStream|EndToEnd|ObserversCost' -benchtime 3x ./harness
//
// BenchmarkStackReady: harness.Start until everything listens (target < 100 ms).
// BenchmarkEndToEnd: the baseline's tasks through the whole stack, observers on
// (sub-benchmarks: the baseline, and the baseline without processing time).
// BenchmarkEndToEndVsRaw: both figures in one process, and their ratio.
// BenchmarkObserversCost: end-to-end with and without the observers (target < 10 %).

// baseline is the built-in baseline scenario with its defaults.
func baseline(b *testing.B) chaos.Scenario {
	b.Helper()
	sc, ok := chaos.Lookup("baseline")
	require.True(b, ok)
	return sc.WithDefaults()
}

// workloads are the throughput benchmarks' sub-benchmarks: the baseline as
// it is (its simulated 2 ms per image bounds it: 2,000 images over 4
// workers' model loops is ≥ 1 s), and the baseline with no processing
// time, where what remains is the harness's own cost.
func workloads(b *testing.B) []chaos.Scenario {
	sc := baseline(b)
	fast := sc
	fast.Name = "no-process-time"
	fast.Workload.ProcessTime = time.Nanosecond // 0 would take the default
	return []chaos.Scenario{sc, fast}
}

func BenchmarkStackReady(b *testing.B) {
	cfg := chaos.StackConfig(baseline(b), 1, nil, nil)
	ctx := context.Background()
	var ready time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s, err := harness.Start(ctx, cfg, history.Discard)
		ready += time.Since(start)
		require.NoError(b, err)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(ready.Microseconds())/1000/float64(b.N), "ms/op")
}

// endToEnd starts a stack for sc (observers off when noObservers), then
// times one job of sc's tasks: create it, publish, let the workers drain it
// until the API has stored every result. Events go to a history file, as in
// a run. The stack's start and close are not timed.
func endToEnd(b *testing.B, sc chaos.Scenario, noObservers bool) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	rec, err := history.Create(filepath.Join(b.TempDir(), "history.jsonl"), start)
	require.NoError(b, err)
	defer func() { require.NoError(b, rec.Close()) }()
	cfg := chaos.StackConfig(sc, sc.Seed, nil, nil)
	cfg.NoObservers = noObservers
	s, err := harness.Start(ctx, cfg, rec)
	require.NoError(b, err)
	defer s.Close()

	return runJob(ctx, b, s, sc.Workload.Tasks)
}

// runJob creates a job of tasks on s, starts the workers and returns how
// long the job took to succeed.
func runJob(ctx context.Context, b *testing.B, s *harness.Stack, tasks int) time.Duration {
	b.Helper()
	begin := time.Now()
	id, err := s.NewJob(ctx, tasks)
	require.NoError(b, err)
	require.NoError(b, s.StartWorkers(ctx))
	for {
		j, ok := s.API().Job(id)
		require.True(b, ok)
		if j.Status == protocol.StatusSuccess {
			break
		}
		require.NoError(b, ctx.Err(), "job %d: %s, %d of %d stored", id, j.Status, j.Progress.Stored, j.Progress.Total)
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(begin)
}

// BenchmarkRawJetStream is the ceiling the harness is measured against: in
// this process, 2,000 tasks published and drained with fetch(64)+ack on one
// connection, no HTTP, no proxies, no observers.
func BenchmarkRawJetStream(b *testing.B) {
	const tasks = 2000 // the baseline's
	var took time.Duration
	for i := 0; i < b.N; i++ {
		took += raw(b, tasks)
	}
	b.ReportMetric(tasksPerSecond(tasks, b.N, took), "tasks/s")
}

// raw times harness.RawFetchAck of tasks tasks on a fresh embedded server.
func raw(b *testing.B, tasks int) time.Duration {
	b.Helper()
	srv, err := natsd.Start()
	require.NoError(b, err)
	defer srv.Close()
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(b, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	require.NoError(b, harness.RawFetchAck(ctx, js, 1, tasks))
	return time.Since(start)
}

func tasksPerSecond(tasks, runs int, d time.Duration) float64 {
	return float64(tasks*runs) / d.Seconds()
}

func BenchmarkEndToEnd(b *testing.B) {
	for _, sc := range workloads(b) {
		b.Run(sc.Name, func(b *testing.B) {
			var took time.Duration
			for i := 0; i < b.N; i++ {
				took += endToEnd(b, sc, false)
			}
			b.ReportMetric(tasksPerSecond(sc.Workload.Tasks, b.N, took), "tasks/s")
		})
	}
}

// BenchmarkEndToEndVsRaw measures, in one process and alternating, raw
// JetStream fetch(64)+ack and the baseline end to end, on the same number
// of tasks; ratio is end-to-end tasks/s over raw tasks/s.
func BenchmarkEndToEndVsRaw(b *testing.B) {
	for _, sc := range workloads(b) {
		b.Run(sc.Name, func(b *testing.B) {
			var rawTook, e2eTook time.Duration
			for i := 0; i < b.N; i++ {
				rawTook += raw(b, sc.Workload.Tasks)
				e2eTook += endToEnd(b, sc, false)
			}
			rawTPS := tasksPerSecond(sc.Workload.Tasks, b.N, rawTook)
			e2eTPS := tasksPerSecond(sc.Workload.Tasks, b.N, e2eTook)
			b.ReportMetric(rawTPS, "raw-tasks/s")
			b.ReportMetric(e2eTPS, "e2e-tasks/s")
			b.ReportMetric(e2eTPS/rawTPS, "ratio")
		})
	}
}

// BenchmarkObserversCost measures the baseline end to end with the
// observers (NATS observer, sampler, liveness prober) and without, alternating;
// cost-% is the throughput they take: (1 − with/without) × 100.
func BenchmarkObserversCost(b *testing.B) {
	for _, sc := range workloads(b) {
		b.Run(sc.Name, func(b *testing.B) {
			var with, without time.Duration
			for i := 0; i < b.N; i++ {
				// Alternate which goes first, so that neither always meets a warmer machine.
				if i%2 == 0 {
					with += endToEnd(b, sc, false)
					without += endToEnd(b, sc, true)
				} else {
					without += endToEnd(b, sc, true)
					with += endToEnd(b, sc, false)
				}
			}
			withTPS := tasksPerSecond(sc.Workload.Tasks, b.N, with)
			withoutTPS := tasksPerSecond(sc.Workload.Tasks, b.N, without)
			b.ReportMetric(withTPS, "with-tasks/s")
			b.ReportMetric(withoutTPS, "without-tasks/s")
			b.ReportMetric((1-withTPS/withoutTPS)*100, "cost-%")
		})
	}
}
