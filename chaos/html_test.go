package chaos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/report"
)

// TestRenderVerifyDir: natschaos report over a verify results directory
// (<variant>/<scenario>/report.json) renders each cell's report.html and
// an index.html holding the matrix, each cell judged again from its report.
func TestRenderVerifyDir(t *testing.T) {
	dir := t.TempDir()
	ok, bad := true, false
	write := func(variant string, r *report.Report) {
		d := filepath.Join(dir, variant, r.Scenario)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, r.WriteJSON(filepath.Join(d, ReportJSON)))
	}
	write("reserve-one-by-one", &report.Report{Scenario: "batch-reserve-incident", Variant: "reserve-one-by-one", Verdict: report.Fail,
		Checks: []report.Check{{Name: "no-loss", OK: &ok}, {Name: "orphaned", OK: &bad, Violations: 3}}})
	write("good", &report.Report{Scenario: "batch-reserve-incident", Variant: "good", Verdict: report.Pass,
		Checks: []report.Check{{Name: "orphaned", OK: &ok}}})
	write("swallow-timeout", &report.Report{Scenario: "nats-down", Variant: "swallow-timeout", Verdict: report.Pass,
		Checks: []report.Check{{Name: "fast-503", OK: &ok}}})

	n, err := Render(dir)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	b, err := os.ReadFile(filepath.Join(dir, IndexHTML))
	require.NoError(t, err)
	page := string(b)
	require.Contains(t, page, `<a class="cell good" href="reserve-one-by-one/batch-reserve-incident/report.html">caught by orphaned</a>`)
	require.Contains(t, page, `<a class="cell good" href="good/batch-reserve-incident/report.html">passed</a>`)
	require.Contains(t, page, `<a class="cell bad" href="swallow-timeout/nats-down/report.html">MISSED</a>`)
	require.Contains(t, page, `id="verdict">FAIL<`)
	for _, f := range []string{"reserve-one-by-one/batch-reserve-incident", "good/batch-reserve-incident", "swallow-timeout/nats-down"} {
		require.FileExists(t, filepath.Join(dir, f, ReportHTML))
	}
}
