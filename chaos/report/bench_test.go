package report_test

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// writeLongHistory writes about n events: every task published, reserved,
// handed out, its result posted, stored and acked; a /tasks call per batch of
// 24, consumer and server samples every 250 ms, a fault window in the middle.
func writeLongHistory(tb testing.TB, path string, n int) int {
	tb.Helper()
	rec, err := history.Create(path, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	count := 0
	emit := func(e history.Event) {
		rec.Emit(e)
		count++
	}
	tasks := n / 6
	emit(history.Event{T: 0.001, Kind: history.KindConfig, AckWait: 30, MaxDeliver: 3, MaxAckPending: 1000,
		Stream: protocol.StreamName(1), ConsumerName: protocol.ConsumerName(1), WorkerHTTPTimeout: 30, ConnectTimeout: 5})
	emit(history.Event{T: 0.002, Kind: history.KindPhase, Name: history.PhaseWarmup})
	for i := 1; i <= tasks; i++ {
		emit(history.Event{T: 0.01 + float64(i)*1e-7, Kind: history.KindPublish, Task: fmt.Sprintf("img-%d", i), SSeq: uint64(i)})
	}
	t, sample := 1.0, 1.0
	dur := float64(tasks) / 2000 // 2000 tasks a second
	for i := 1; i <= tasks; i++ {
		t += 1.0 / 2000
		if i%24 == 1 {
			emit(history.Event{T: t, Kind: history.KindHTTP, Worker: fmt.Sprintf("w%d", i%4), Path: "/api/v2/jobs/1/tasks/", Status: 200, MS: 3, Batch: 24, N: 24})
		}
		if i == tasks/3 {
			emit(history.Event{T: t, Kind: history.KindFault, ID: "f1", Name: "latency", Link: "api-nats", Phase: "start"})
		}
		if i == tasks/2 {
			emit(history.Event{T: t, Kind: history.KindFault, ID: "f1", Name: "latency", Link: "api-nats", Phase: "end"})
		}
		task := fmt.Sprintf("img-%d", i)
		reply := fmt.Sprintf("$JS.ACK.job_1.job-1-consumer.1.%d.%d.1700000000000000000.%d", i, i, tasks-i)
		emit(history.Event{T: t, Kind: history.KindReserve, Task: task, Reply: reply, SSeq: uint64(i), DSeq: uint64(i), DC: 1, MS: 1})
		emit(history.Event{T: t + 0.001, Kind: history.KindHandout, Task: task, Reply: reply, SSeq: uint64(i), DSeq: uint64(i), DC: 1, Worker: "w1"})
		emit(history.Event{T: t + 0.02, Kind: history.KindResult, Task: task, Reply: reply, Worker: "w1", Status: 200})
		emit(history.Event{T: t + 0.021, Kind: history.KindStored, Task: task})
		emit(history.Event{T: t + 0.022, Kind: history.KindAck, Reply: reply, SSeq: uint64(i), DSeq: uint64(i), DC: 1, Ack: "ack"})
		if t >= sample {
			emit(history.Event{T: t, Kind: history.KindConsumer, Stream: protocol.StreamName(1), ConsumerName: protocol.ConsumerName(1), NumPending: uint64(tasks - i), NumAckPending: 40})
			emit(history.Event{T: t, Kind: history.KindServer, Connections: 5, TotalConnections: 5})
			sample += 0.25
		}
	}
	emit(history.Event{T: 1 + dur + 0.1, Kind: history.KindPhase, Name: history.PhaseEnd})
	if err := rec.Close(); err != nil {
		tb.Fatal(err)
	}
	return count
}

// BenchmarkHTML renders report.html of a 1,000,000-event history (the
// checkers' run is not timed: only the page: one pass over the history, the
// timeline, the traces of 20 offending tasks).
func BenchmarkHTML(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "history.jsonl")
	n := writeLongHistory(b, path, 1_000_000)
	rs, err := check.RunFile(path, check.Params{})
	if err != nil {
		b.Fatal(err)
	}
	rep := report.New(report.Meta{Scenario: "long"}, rs)
	var offenses []check.Offense
	for i := range 20 {
		offenses = append(offenses, check.Offense{Task: fmt.Sprintf("img-%d", 1+i*7001), T: 1, Detail: "picked for the benchmark"})
	}
	rep.Checks = append(rep.Checks, report.Check{Name: "orphaned", OK: new(bool), Violations: 20, Offending: offenses})
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		if err := report.RenderHTML(io.Discard, rep, path); err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(peak)/(1<<20), "heap-inuse-MB-after")
}
