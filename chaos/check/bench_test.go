package check_test

import (
	"io"
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
	"github.com/natschaos/natschaos/history/historytest"
)

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
		bigCount = historytest.WriteBig(b, bigPath, 1_000_000)
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
