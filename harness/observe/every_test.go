package observe

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
)

// TestEveryStopsWithContext: the ticks start at once, repeat, and end with
// the context; after runs once they have; stop then returns at once, twice.
func TestEveryStopsWithContext(t *testing.T) {
	var ticks, afters atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	e := startEvery(ctx, 5*time.Millisecond, func(context.Context) { ticks.Add(1) }, func() { afters.Add(1) })
	polltest.CheckFor(t, 2*time.Second, time.Millisecond, func() error {
		if ticks.Load() < 3 {
			return errors.New("fewer than 3 ticks")
		}
		return nil
	})
	cancel()
	select {
	case <-e.done:
	case <-time.After(2 * time.Second):
		t.Fatal("still ticking after the context ended")
	}
	require.Equal(t, int32(1), afters.Load())
	n := ticks.Load()
	e.stop()
	e.stop()
	require.Equal(t, n, ticks.Load(), "no tick after the end")
	require.Equal(t, int32(1), afters.Load())
}
