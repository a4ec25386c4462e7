package chaos

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/protocol"
)

// TestVerificationMatrixCoversEveryVariant: every known-bad variant has a
// row, each row names built-in scenarios and real checkers.
func TestVerificationMatrixCoversEveryVariant(t *testing.T) {
	checkers := map[string]bool{}
	for _, c := range check.All(check.Params{}) {
		checkers[c.Name()] = true
	}
	rows := map[string]bool{}
	for _, e := range VerificationMatrix {
		rows[e.Variant] = true
		require.NotEmpty(t, e.Scenarios, e.Variant)
		require.NotEmpty(t, e.Invariants, e.Variant)
		for _, inv := range e.Invariants {
			require.True(t, checkers[inv], "%s: %q is not a checker of check.All", e.Variant, inv)
		}
		for _, s := range e.Scenarios {
			_, ok := Lookup(s)
			require.True(t, ok, "%s: %q is not a built-in scenario", e.Variant, s)
		}
	}
	for _, v := range protocol.VariantNames() {
		if v != "good" && v != "pooled" {
			require.True(t, rows[v], "no row for %s", v)
		}
	}
	cells, err := Plan(VerifyOptions{})
	require.NoError(t, err)
	good := 0
	for _, c := range cells {
		if c.Variant == "good" {
			good++
		}
	}
	require.Positive(t, good)
	_, err = Plan(VerifyOptions{Variants: []string{"no-such-bug"}})
	require.True(t, IsUsage(err))
}

// TestVerify runs the matrix: every bad variant must be caught by an
// expected invariant, the good variant must pass every scenario. Under
// -short only the fast subset runs. Under -race too, one cell at a time:
// the race detector slows the stacks several times over, and the timing
// bounds of the whole matrix (fast-503 within connect_timeout + ε, stalls
// under max_stall) are for real runs — in make test they raised false
// alarms. .ci/run runs the whole matrix without it (make verify).
func TestVerify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	parallel := 2
	if raceDetector {
		parallel = 1
	}
	m, err := Verify(ctx, VerifyOptions{Out: t.TempDir(), Short: testing.Short() || raceDetector, Parallel: parallel})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, m.Print(&b))
	t.Log("\n" + b.String())
	require.Empty(t, m.HarnessErrors())
	for _, c := range m.Cells {
		if c.Variant == "good" || c.Variant == "pooled" {
			require.Equal(t, Passed, c.Outcome, "%s on %s: %s (results in %s)", c.Variant, c.Scenario, c.Text(), c.Out)
		} else {
			require.Equal(t, Caught, c.Outcome, "%s on %s: %s (results in %s)", c.Variant, c.Scenario, c.Text(), c.Out)
		}
	}
	require.True(t, m.OK())
	b2, err := os.ReadFile(filepath.Join(m.Out, "verify.json"))
	require.NoError(t, err)
	var f VerifyFile
	require.NoError(t, json.Unmarshal(b2, &f))
	require.Equal(t, "ok", f.Verdict)
	require.Len(t, f.Cells, len(m.Cells))
	for _, c := range f.Cells {
		_, err := os.Stat(filepath.Join(m.Out, filepath.FromSlash(c.Report)))
		require.NoError(t, err, "%s/%s: report %q", c.Variant, c.Scenario, c.Report)
	}
	j := m.JUnit()
	require.Zero(t, j.Failures+j.Errors, "a matrix that holds fails nothing in JUnit")
	require.Len(t, j.Suites, len(m.Cells))
	if testing.Short() || raceDetector {
		_, ok := m.Cell("reserve-one-by-one", "batch-reserve-incident")
		require.True(t, ok)
	}
}
