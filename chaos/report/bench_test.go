package report_test

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history/historytest"
)

// BenchmarkHTML renders report.html of a 1,000,000-event history (the
// checkers' run is not timed: only the page: one pass over the history, the
// timeline, the traces of 20 offending tasks).
func BenchmarkHTML(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "history.jsonl")
	n := historytest.WriteBig(b, path, 1_000_000)
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
