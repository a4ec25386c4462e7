// Package poll waits, in tests, for a condition to hold: nats-server's
// checkFor, shared by every package's tests instead of copied into each.
package poll

import (
	"testing"
	"time"
)

// CheckFor calls f every `every` until it returns nil, and fails t with f's
// last error when that has not happened within total.
func CheckFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition never held within %s: %v", total, err)
		}
		time.Sleep(every)
	}
}
