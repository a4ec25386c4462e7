package poll

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUntil(t *testing.T) {
	ctx := context.Background()
	n := 0
	require.NoError(t, Until(ctx, time.Second, time.Millisecond, func(context.Context) error {
		if n++; n < 3 {
			return NotYet
		}
		return nil
	}))
	require.Equal(t, 3, n, "called until it held")

	why := errors.New("consumer missing")
	err := Until(ctx, 20*time.Millisecond, 5*time.Millisecond, func(context.Context) error { return why })
	require.ErrorIs(t, err, ErrTimedOut)
	require.ErrorIs(t, err, why, "the last reason is kept")
	require.EqualError(t, err, "not within 20ms: consumer missing")

	calls := 0
	err = Until(ctx, time.Minute, time.Millisecond, func(context.Context) error { calls++; return Stop(why) })
	require.Equal(t, why, err, "Stop ends the wait with the error as it is")
	require.Equal(t, 1, calls)

	cctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	time.AfterFunc(10*time.Millisecond, cancel)
	err = Until(cctx, time.Minute, time.Second, func(context.Context) error { return NotYet })
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 5*time.Second, "a cancelled context ends the wait")
}

// TestEvery: f runs once per interval, not at once, and Every returns when
// its context ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, 5*time.Millisecond, func() {
			if len(calls) == 2 {
				cancel()
			}
			calls <- struct{}{}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	require.Len(t, calls, 3)
	cancel()
	Every(ctx, time.Hour, func() { t.Fatal("called after the context ended") })
}
