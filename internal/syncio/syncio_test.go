package syncio

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestClosingActsOnce(t *testing.T) {
	var (
		mu     sync.Mutex
		closed bool
		acted  atomic.Int32
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if Closing(&mu, &closed) {
				acted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := acted.Load(); n != 1 || !closed {
		t.Fatalf("%d of 8 concurrent calls acted (closed %v), want exactly 1", n, closed)
	}
	if Closing(&mu, &closed) {
		t.Fatal("a call after the close acted again")
	}
}
