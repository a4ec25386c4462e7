package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/natschaos/natschaos/internal/poll"
)

// A soak's own memory. With GOGC alone the Go runtime lets the heap grow to
// twice the live heap and holds what it took; over tens of minutes it then
// writes, for the first time, pages it has held since the first minute, and
// natschaos's RSS creeps up (+1.1–2.5 MB per 10 minutes measured with a flat
// live heap) — which resource-growth reads as a slow leak of the process it
// judges, the reference API's included. keepFootprint gives the runtime a
// soft memory limit of twice the live heap instead (at least
// minFootprint), raised as the live heap grows and never lowered, so the
// garbage collector never runs for want of room: the limit tracks what the
// soak needs. A real leak still shows: live memory is never collected, and
// the limit follows it up. Not when GOMEMLIMIT is set: the user's limit
// stands.

// minFootprint is the smallest limit keepFootprint sets.
const minFootprint = 48 << 20

// footprintEvery is how often keepFootprint reads the live heap.
const footprintEvery = 10 * time.Second

// keepFootprint keeps the soft memory limit at twice the live heap until
// ctx ends, then removes it. The caller waits on the returned WaitGroup.
func keepFootprint(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	if os.Getenv("GOMEMLIMIT") != "" {
		return &wg
	}
	var limit int64
	raise := func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if want := max(2*int64(s[0].Value.Uint64()), minFootprint); want > limit {
			limit = want
			debug.SetMemoryLimit(limit)
		}
	}
	raise()
	wg.Add(1)
	go func() {
		defer wg.Done()
		poll.Every(ctx, footprintEvery, raise)
		debug.SetMemoryLimit(math.MaxInt64) // no limit, as without GOMEMLIMIT
	}()
	return &wg
}
