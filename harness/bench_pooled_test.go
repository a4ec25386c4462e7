package harness_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// BenchmarkPooledVsPerRequest puts the reference API's two connection
// modes side by side, alternating in one process, on the baseline's
// workload (and on it without processing time): a NATS connection per
// request (good) and a bounded, health-checked pool (pooled). For each it
// reports the api-nats connections opened per /tasks call, the /tasks p99
// as the workers saw it (all calls, and the calls that got tasks: an empty
// call waits fetch_wait), end-to-end tasks/s, and that throughput's ratio to
// raw JetStream fetch+ack of the same tasks, measured in the same loop:
//
//	go test -run '^$' -bench PooledVsPerRequest -benchtime 3x ./harness
func BenchmarkPooledVsPerRequest(b *testing.B) {
	for _, sc := range workloads(b) {
		b.Run(sc.Name, func(b *testing.B) {
			modes := []string{protocol.VariantGood, protocol.VariantPooled}
			took := map[string]time.Duration{}
			conns := map[string]int{}
			calls := map[string]int{}
			lat := map[string][]float64{}
			full := map[string][]float64{} // calls that got tasks (the empty ones wait fetch_wait)
			var rawTook time.Duration
			for i := 0; i < b.N; i++ {
				rawTook += raw(b, sc.Workload.Tasks)
				for k := range modes {
					v := modes[(i+k)%len(modes)] // alternate which goes first
					s := sc
					s.SUT.Variant = v
					d, m := endToEndMemory(b, s)
					took[v] += d
					for _, e := range m.Events() {
						switch {
						case e.Kind == history.KindConn && e.Link == "api-nats" && e.Phase == history.ConnOpen:
							conns[v]++
						case e.IsTasksCall():
							calls[v]++
							lat[v] = append(lat[v], e.MS)
							if e.N > 0 {
								full[v] = append(full[v], e.MS)
							}
						}
					}
				}
			}
			rawTPS := tasksPerSecond(sc.Workload.Tasks, b.N, rawTook)
			b.ReportMetric(rawTPS, "raw-tasks/s")
			for _, v := range modes {
				name := "per-request"
				if v == protocol.VariantPooled {
					name = "pooled"
				}
				tps := tasksPerSecond(sc.Workload.Tasks, b.N, took[v])
				b.ReportMetric(float64(conns[v])/float64(max(calls[v], 1)), name+"-conns/tasks-call")
				b.ReportMetric(p99(lat[v]), name+"-tasks-p99-ms")
				b.ReportMetric(p99(full[v]), name+"-nonempty-tasks-p99-ms")
				b.ReportMetric(tps, name+"-tasks/s")
				b.ReportMetric(tps/rawTPS, name+"-ratio")
			}
		})
	}
}

// endToEndMemory is endToEnd with the history kept in memory, for the
// figures read back from it.
func endToEndMemory(b *testing.B, sc chaos.Scenario) (time.Duration, *history.Memory) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := history.NewMemory()
	s, err := harness.Start(ctx, chaos.StackConfig(sc, sc.Seed, nil, nil), m)
	require.NoError(b, err)
	defer s.Close()
	return runJob(ctx, b, s, sc.Workload.Tasks), m
}

func p99(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(float64(len(s))*0.99))]
}
