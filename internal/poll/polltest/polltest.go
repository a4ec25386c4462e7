// Package polltest is the tests' one way to wait: poll a condition until a
// deadline ([poll.Until]) and fail the test naming what never happened.
// It lives apart from poll so that the natschaos binary does not link the
// testing package.
package polltest

import (
	"context"
	"testing"
	"time"

	"github.com/natschaos/natschaos/internal/poll"
)

// CheckFor calls f every `every` until it returns nil, and fails t with f's
// last error when that has not happened within total.
func CheckFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	var last error
	err := poll.Until(context.Background(), total, every, func(context.Context) error {
		last = f()
		return last
	})
	if err != nil {
		t.Fatalf("condition never held within %s: %v", total, last)
	}
}
