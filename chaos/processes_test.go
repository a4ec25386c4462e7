package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ProcessCountEnv, set to the largest process count to try, runs
// TestAPIProcessCount.
const ProcessCountEnv = "NATSCHAOS_PROCESS_COUNT"

// TestAPIProcessCount answers "how many API processes does the fleet
// need" by measurement: the api-processes scenario (the baseline's adc
// fleet) with N sync processes of one thread, N = 1, 2, …, until liveness
// and tasks-latency pass twice in a row at the same N; it prints that N.
// It runs only with NATSCHAOS_PROCESS_COUNT=<largest N to try> (a minute or
// more of real runs).
func TestAPIProcessCount(t *testing.T) {
	limit, _ := strconv.Atoi(os.Getenv(ProcessCountEnv))
	if limit <= 0 {
		t.Skipf("set %s=<largest process count to try> to measure", ProcessCountEnv)
	}
	sc, ok := Lookup("api-processes")
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(limit)*2*time.Minute)
	defer cancel()
	out := t.TempDir()
	passes := func(n, try int) bool {
		s := sc
		s.SUT.Processes, s.SUT.Threads = n, 1
		rep, err := Run(ctx, s, RunOptions{Out: filepath.Join(out, fmt.Sprintf("p%d-%d", n, try))})
		if rep == nil {
			require.NoError(t, err)
		}
		require.Empty(t, rep.HarnessError)
		verdict := map[string]string{}
		for _, c := range rep.Checks {
			switch {
			case c.OK == nil:
				verdict[c.Name] = "unknown"
			case *c.OK:
				verdict[c.Name] = "ok"
			default:
				verdict[c.Name] = "FAIL"
			}
		}
		t.Logf("processes %2d threads 1: liveness %s, tasks-latency %s (run verdict %s)", n, verdict["liveness"], verdict["tasks-latency"], rep.Verdict)
		return verdict["liveness"] == "ok" && verdict["tasks-latency"] == "ok"
	}
	for n := 1; n <= limit; n++ {
		if passes(n, 1) && passes(n, 2) {
			t.Logf("smallest API process count (threads 1) at which liveness and tasks-latency pass: %d", n)
			fmt.Printf("api processes needed (threads 1): %d\n", n)
			return
		}
	}
	t.Fatalf("liveness and tasks-latency still fail with %d processes of one thread", limit)
}
