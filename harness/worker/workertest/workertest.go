// Package workertest runs the built-in workers for tests as a platform's
// own workers: in the background, beside what the test drives, until it
// stops them.
package workertest

import (
	"context"
	"sync"
	"testing"

	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
)

// Start runs a pool of n workers of cfg, their events discarded, until ctx
// ends or stop is called. stop returns once they all have; it runs when
// the test ends if not called before, and may be called again.
func Start(t testing.TB, ctx context.Context, n int, cfg worker.Config) (stop func()) {
	t.Helper()
	pool, err := worker.NewPool(n, cfg, history.Discard)
	if err != nil {
		t.Fatalf("worker pool: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = pool.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}
