package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

// TestVariantSlowLeak: 300 /tasks calls of the slow-leak variant leave 3
// subscriptions on the server that the good variant does not (a job not
// started: the calls answer at once), and Close ends the leaked goroutines
// (goleak in TestMain checks).
func TestVariantSlowLeak(t *testing.T) {
	eachVariant(t, map[string]int{protocol.VariantGood: 0, protocol.VariantSlowLeak: 3}, func(t *testing.T, variant string, leaked int) {
		e := newEnv(t, nil, withVariant(variant))
		id := e.createJob(3, false)
		base := serverConns(t, e.nats).Subscriptions
		for range 3 * leakEvery {
			code, _ := e.tasks(id, 1, 5*time.Second)
			require.Equal(t, 200, code)
		}
		polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if s := serverConns(t, e.nats).Subscriptions; s < base+uint64(leaked) {
				return fmt.Errorf("%d subscriptions, want %d", s, base+uint64(leaked))
			}
			return nil
		})
		require.Equal(t, base+uint64(leaked), serverConns(t, e.nats).Subscriptions)
	})
}

// TestForget: an ended job is forgotten, results and all; a running one is not.
func TestForget(t *testing.T) {
	e := newEnv(t, nil)
	id := e.createJob(3, true)
	require.False(t, e.api.Forget(id), "a running job is kept")
	_, err := e.api.CancelJob(context.Background(), id)
	require.NoError(t, err)
	st, ok := e.api.JobStatus(id)
	require.True(t, ok)
	require.Equal(t, protocol.StatusRevoked, st)
	require.True(t, e.api.Forget(id))
	_, ok = e.api.JobStatus(id)
	require.False(t, ok)
	require.False(t, e.api.Forget(id))
}
