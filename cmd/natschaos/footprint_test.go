package main

import (
	"context"
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// keepFootprint sets a soft memory limit of at least minFootprint while
// its context lasts and removes it after; a GOMEMLIMIT the user set
// stands.
func TestKeepFootprint(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "") // as when the user did not set it

	ctx, cancel := context.WithCancel(context.Background())
	wg := keepFootprint(ctx)
	require.GreaterOrEqual(t, debug.SetMemoryLimit(-1), int64(minFootprint))
	require.Less(t, debug.SetMemoryLimit(-1), int64(math.MaxInt64))
	cancel()
	wg.Wait()
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	t.Setenv("GOMEMLIMIT", "off")
	ctx, cancel = context.WithCancel(context.Background())
	wg = keepFootprint(ctx)
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "the user's GOMEMLIMIT stands")
	cancel()
	wg.Wait()
}
