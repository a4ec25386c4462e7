package chaostest_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/chaostest"
)

// TestBaseline: the healthy baseline passes with no test error, and the
// harness's log goes through t.Log.
func TestBaseline(t *testing.T) {
	rec := &recorder{TB: t}
	rep := chaostest.Run(rec, "baseline", chaostest.WithSeed(1), chaostest.WithLogLevel(slog.LevelDebug))
	require.Empty(t, rec.errors)
	require.NotNil(t, rep)
	require.Equal(t, report.Pass, rep.Verdict)
	require.NotNil(t, rep.Provenance)
	require.Regexp(t, `msg=phase .*name=drain`, strings.Join(rec.logs, "\n"), "the harness's log lines reach t.Log")
}

// recorder is a testing.TB whose errors are recorded instead of failing
// the test; everything else (TempDir, Context, Log) is the real test's.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	logs   []string
}

func (r *recorder) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprint(args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprint(args...))
}

// TestFailingVariantErrors: the variant that reserves one by one fails the
// incident scenario, and Run reports each failed check with t.Errorf,
// naming the check, its summary and the results directory.
func TestFailingVariantErrors(t *testing.T) {
	out := t.TempDir()
	rec := &recorder{TB: t}
	rep := chaostest.Run(rec, "batch-reserve-incident", chaostest.WithVariant("reserve-one-by-one"), chaostest.WithOut(out))
	require.NotNil(t, rep)
	require.Equal(t, report.Fail, rep.Verdict)
	failed := rep.Failed()
	require.NotEmpty(t, failed)
	require.Len(t, rec.errors, len(failed), "one error per failed check: %q", rec.errors)
	for i, name := range failed {
		require.Contains(t, rec.errors[i], "check "+name+" failed: ")
		require.Contains(t, rec.errors[i], out)
	}
	_, err := os.Stat(filepath.Join(out, "report.json"))
	require.NoError(t, err, "WithOut keeps the results")

	// A scenario that does not exist, or is not valid, is an error too.
	bad := &recorder{TB: t}
	require.Nil(t, chaostest.Run(bad, "no-such-scenario"))
	require.Len(t, bad.errors, 1)
	require.Contains(t, bad.errors[0], "unknown scenario")
	bad = &recorder{TB: t}
	require.Nil(t, chaostest.Run(bad, chaos.Scenario{Name: "x", Chaos: -1}))
	require.Len(t, bad.errors, 1)
}

// TestReportInconclusive: an inconclusive report is one error saying why.
func TestReportInconclusive(t *testing.T) {
	rec := &recorder{TB: t}
	chaostest.Report(rec, &report.Report{Scenario: "s", Variant: "good", Verdict: report.Inconclusive, HarnessError: "no publish"}, "/r")
	require.Len(t, rec.errors, 1)
	require.True(t, strings.Contains(rec.errors[0], "inconclusive: no publish") && strings.Contains(rec.errors[0], "/r"), rec.errors[0])
}
