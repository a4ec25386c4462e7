package chaos_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
)

// TestVerificationMatrixCoversEveryVariant: every known-bad variant has a
// row, each row names built-in scenarios and real checkers.
func TestVerificationMatrixCoversEveryVariant(t *testing.T) {
	rows := map[string]bool{}
	for _, e := range chaos.VerificationMatrix {
		rows[e.Variant] = true
		require.NotEmpty(t, e.Scenarios, e.Variant)
		require.NotEmpty(t, e.Invariants, e.Variant)
	}
	for _, v := range chaos.Variants {
		if v != "good" && v != "pooled" {
			require.True(t, rows[v], "no row for %s", v)
		}
	}
	cells, err := chaos.Plan(chaos.VerifyOptions{})
	require.NoError(t, err)
	good := 0
	for _, c := range cells {
		if c.Variant == "good" {
			good++
		}
	}
	require.Positive(t, good)
	_, err = chaos.Plan(chaos.VerifyOptions{Variants: []string{"no-such-bug"}})
	require.True(t, chaos.IsUsage(err))
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
	m, err := chaos.Verify(ctx, chaos.VerifyOptions{Out: t.TempDir(), Short: testing.Short() || raceDetector, Parallel: parallel})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, m.Print(&b))
	t.Log("\n" + b.String())
	require.Empty(t, m.HarnessErrors())
	for _, c := range m.Cells {
		if c.Variant == "good" || c.Variant == "pooled" {
			require.Equal(t, chaos.Passed, c.Outcome, "%s on %s: %s (results in %s)", c.Variant, c.Scenario, c.Text(), c.Out)
		} else {
			require.Equal(t, chaos.Caught, c.Outcome, "%s on %s: %s (results in %s)", c.Variant, c.Scenario, c.Text(), c.Out)
		}
	}
	require.True(t, m.OK())
	if testing.Short() || raceDetector {
		_, ok := m.Cell("reserve-one-by-one", "batch-reserve-incident")
		require.True(t, ok)
	}
}
