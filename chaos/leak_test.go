package chaos

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/report"
)

// TestLeakOnShortBaseline: an API that never closes its per-request NATS
// connections fails connection-leak on a baseline of about 1.5 s (the
// server-wide level once reached back into warmup and passed it); the good
// variant passes it on the same run, and both record conn events.
func TestLeakOnShortBaseline(t *testing.T) {
	sc, ok := Lookup("baseline")
	require.True(t, ok)
	sc.Workload.Tasks = 300
	sc.Warmup = 300 * time.Millisecond
	for variant, want := range map[string]bool{"good": true, "leak-connections": false} {
		t.Run(variant, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := Run(ctx, sc, RunOptions{Out: t.TempDir(), Seed: 1, Variant: variant})
			if err != nil && !errors.Is(err, ErrViolated) {
				require.NoError(t, err)
			}
			leak := checkOf(t, rep, "connection-leak")
			require.NotNil(t, leak.OK, "connection-leak: %s", leak.Summary)
			require.Equal(t, want, *leak.OK, "connection-leak: %s", leak.Summary)
			require.Positive(t, leak.Figures["connections_api-nats"], "conn events on api-nats")
			require.Positive(t, leak.Figures["connections_results-nats"], "conn events on results-nats")
		})
	}
}

func checkOf(t *testing.T, rep *report.Report, name string) report.Check {
	t.Helper()
	require.NotNil(t, rep)
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in the report", name)
	return report.Check{}
}
