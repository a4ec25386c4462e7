package chaos

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPacer: callers sharing a pacer go `every` apart in total, and idle
// time gives no burst afterwards.
func TestPacer(t *testing.T) {
	p := &pacer{every: 20 * time.Millisecond}
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				require.NoError(t, p.wait(t.Context()))
			}
		}()
	}
	wg.Wait()
	require.GreaterOrEqual(t, time.Since(start), 29*20*time.Millisecond, "30 events, the first at once")

	time.Sleep(100 * time.Millisecond) // idle: must not be credited
	start = time.Now()
	for range 3 {
		require.NoError(t, p.wait(t.Context()))
	}
	require.GreaterOrEqual(t, time.Since(start), 2*20*time.Millisecond)
}
