package check_test

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// writeBigHistory writes a realistic history of about n events: tasks go
// through publish → reserve → handout → result → stored → ack, 1 % of
// them are redelivered once after a lost handout, workers fetch batches of
// 24, the prober runs every 100 ms and consumer/server samples every 250 ms.
func writeBigHistory(tb testing.TB, path string, n int) int {
	tb.Helper()
	rec, err := history.Create(path, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	count := 0
	emit := func(e history.Event) {
		rec.Emit(e)
		count++
	}
	const ackWait = 30.0
	tasks := n / 6
	emit(history.Event{T: 0.001, Kind: history.KindConfig, AckWait: ackWait, MaxDeliver: 3, MaxAckPending: 1000,
		Stream: protocol.StreamName(1), ConsumerName: protocol.ConsumerName(1), WorkerHTTPTimeout: 30, ConnectTimeout: 5})
	emit(history.Event{T: 0.002, Kind: history.KindPhase, Name: history.PhaseWarmup})
	for i := 1; i <= tasks; i++ {
		emit(history.Event{T: 0.01 + float64(i)*1e-6, Kind: history.KindPublish, Task: fmt.Sprintf("img-%d", i), SSeq: uint64(i)})
	}
	t := 1.0
	nextSample, nextProbe := t, t
	var dseq uint64
	var conns, total, api uint64 = 5, 5, 10
	reply := func(dc int, sseq, dseq uint64) string {
		return fmt.Sprintf("$JS.ACK.job_1.job-1-consumer.%d.%d.%d.1700000000000000000.%d", dc, sseq, dseq, tasks-int(sseq))
	}
	type redo struct {
		sseq uint64
		at   float64
	}
	var redos []redo
	for i := 1; i <= tasks; i += 24 {
		t += 0.02
		for t >= nextSample {
			emit(history.Event{T: nextSample, Kind: history.KindConsumer, NumPending: uint64(tasks - i), NumAckPending: 24, Delivered: dseq, AckFloor: dseq - 24})
			emit(history.Event{T: nextSample, Kind: history.KindServer, Connections: int(conns), TotalConnections: total, Subscriptions: 20, JSAPITotal: api})
			nextSample += 0.25
		}
		for t >= nextProbe {
			emit(history.Event{T: nextProbe, Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: "/api/v2/", Status: 200, MS: 1 + rng.Float64()*3})
			nextProbe += 0.1
		}
		worker := fmt.Sprintf("w%d", i%4)
		batch := []uint64{}
		for j := i; j < i+24 && j <= tasks; j++ {
			batch = append(batch, uint64(j))
		}
		for len(redos) > 0 && redos[0].at <= t {
			batch = append(batch, redos[0].sseq)
			redos = redos[1:]
		}
		total++
		api += 3
		for _, s := range batch {
			dseq++
			dc := 1
			if s < uint64(i) {
				dc = 2
			}
			r := reply(dc, s, dseq)
			emit(history.Event{T: t, Kind: history.KindReserve, Task: fmt.Sprintf("img-%d", s), Reply: r, SSeq: s, DSeq: dseq, DC: dc})
		}
		emit(history.Event{T: t + 0.005, Kind: history.KindHTTP, Worker: worker, Path: "/api/v2/jobs/1/tasks/", Status: 200, MS: 5, Batch: 24, N: len(batch)})
		for k, s := range batch {
			dc := 1
			if s < uint64(i) {
				dc = 2
			}
			task := fmt.Sprintf("img-%d", s)
			r := reply(dc, s, dseq-uint64(len(batch)-1-k))
			emit(history.Event{T: t + 0.005, Kind: history.KindHandout, Task: task, Reply: r, SSeq: s, DSeq: dseq - uint64(len(batch)-1-k), DC: dc, Worker: worker})
			if dc == 1 && rng.Intn(100) == 0 {
				redos = append(redos, redo{s, t + ackWait}) // the worker crashed: NATS redelivers after ack_wait
				continue
			}
			emit(history.Event{T: t + 0.01, Kind: history.KindResult, Task: task, Reply: r, Worker: worker, Status: 200})
			emit(history.Event{T: t + 0.012, Kind: history.KindStored, Task: task})
			total++
			emit(history.Event{T: t + 0.013, Kind: history.KindAck, Reply: r, SSeq: s, DC: dc, Ack: "ack"})
		}
		emit(history.Event{T: t + 0.011, Kind: history.KindHTTP, Worker: worker, Path: "/api/v2/jobs/1/result/", Status: 200, MS: 2, N: len(batch)})
	}
	// Drain the redeliveries.
	for _, r := range redos {
		t = max(t, r.at) + 0.001
		dseq++
		task := fmt.Sprintf("img-%d", r.sseq)
		rep := reply(2, r.sseq, dseq)
		emit(history.Event{T: t, Kind: history.KindReserve, Task: task, Reply: rep, SSeq: r.sseq, DSeq: dseq, DC: 2})
		emit(history.Event{T: t + 0.005, Kind: history.KindHandout, Task: task, Reply: rep, SSeq: r.sseq, DSeq: dseq, DC: 2, Worker: "w0"})
		emit(history.Event{T: t + 0.005, Kind: history.KindHTTP, Worker: "w0", Path: "/api/v2/jobs/1/tasks/", Status: 200, MS: 5, Batch: 24, N: 1})
		emit(history.Event{T: t + 0.01, Kind: history.KindResult, Task: task, Reply: rep, Worker: "w0", Status: 200})
		emit(history.Event{T: t + 0.012, Kind: history.KindStored, Task: task})
		emit(history.Event{T: t + 0.013, Kind: history.KindAck, Reply: rep, SSeq: r.sseq, DC: 2, Ack: "ack"})
	}
	emit(history.Event{T: t + 1, Kind: history.KindPhase, Name: history.PhaseDrain})
	emit(history.Event{T: t + 2, Kind: history.KindServer, Connections: int(conns), TotalConnections: total, Subscriptions: 20, JSAPITotal: api})
	emit(history.Event{T: t + 2, Kind: history.KindPhase, Name: history.PhaseEnd})
	if err := rec.Close(); err != nil {
		tb.Fatal(err)
	}
	return count
}

var (
	bigOnce  sync.Once
	bigPath  string
	bigCount int
)

// bigHistory is one million-event history per test binary, in a temp dir.
func bigHistory(b *testing.B) (string, int) {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "natschaos-bench")
		if err != nil {
			b.Fatal(err)
		}
		bigPath = filepath.Join(dir, "history.jsonl")
		bigCount = writeBigHistory(b, bigPath, 1_000_000)
	})
	return bigPath, bigCount
}

// peakHeap samples the live heap every few milliseconds until stop is called.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkRun times check.Run over a 1,000,000-event history (target:
// < 2 s, < 300 MB). Run it with:
//
//	go test ./chaos/check/ -run '^$' -bench BenchmarkRun -benchtime 3x
func BenchmarkRun(b *testing.B) {
	path, n := bigHistory(b)
	runtime.GC()
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		stop := peakHeap()
		rs, err := check.RunFile(path, check.Params{})
		peak = max(peak, stop())
		if err != nil {
			b.Fatal(err)
		}
		if !rs.Judged() || len(rs.Failed()) > 0 {
			for _, r := range rs.Checks {
				b.Log(r.String())
			}
			b.Fatalf("the generated history must pass: %v", rs.Assumptions)
		}
	}
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkDecode times the history codec alone over the same history.
func BenchmarkDecode(b *testing.B) {
	path, n := bigHistory(b)
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := history.NewReader(f)
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
		f.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRunCompressed times check.Run over the same history compressed
// as a soak writes it (zstd, fastest), and BenchmarkRunUncompressed over
// the plain one, for comparison; both report the bytes per event on disk:
//
//	go test ./chaos/check/ -run '^$' -bench Compressed -benchtime 3x
func BenchmarkRunCompressed(b *testing.B) {
	path, n := bigHistory(b)
	dir := b.TempDir()
	rec, err := history.CreateSegments(dir, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := history.Each(path, func(e history.Event) error { rec.Emit(e); return nil }); err != nil {
		b.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
	benchRunFile(b, dir, n, filepath.Join(dir, history.SegmentName(1)))
}

// BenchmarkRunUncompressed is BenchmarkRunCompressed's baseline.
func BenchmarkRunUncompressed(b *testing.B) {
	path, n := bigHistory(b)
	benchRunFile(b, path, n, path)
}

func benchRunFile(b *testing.B, path string, n int, file string) {
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		rs, err := check.RunFile(path, check.Params{})
		if err != nil {
			b.Fatal(err)
		}
		if rs.Events != n {
			b.Fatalf("read %d events, want %d", rs.Events, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(fi.Size())/float64(n), "bytes/event")
}
