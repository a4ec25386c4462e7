// Package poll waits for a condition to hold: nats-server's checkFor,
// shared by every package — [Until] for the harness's own waits on a
// context, polltest.CheckFor (built on it) for tests — instead of a loop
// copied into each.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimedOut is matched (errors.Is) by the error of [Until] when the
// condition did not hold within its total time.
var ErrTimedOut = errors.New("timed out")

// Until calls f every `every` until it returns nil, and returns nil then.
// An error from f means "not yet" and is kept: when total passes first,
// Until returns an error that matches ErrTimedOut and wraps f's last
// error; an error from f wrapped by [Stop] ends the wait at once and is
// returned as it is. When ctx ends first, Until returns ctx's error. f is
// called at least once, also with a total ≤ 0.
func Until(ctx context.Context, total, every time.Duration, f func(context.Context) error) error {
	deadline := time.Now().Add(total)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if s, ok := err.(stopError); ok {
			return s.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !time.Now().Before(deadline) {
			return &timeoutError{total: total, last: err}
		}
		t.Reset(min(every, time.Until(deadline)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// NotYet is the error a condition returns to say, without a reason, that
// it does not hold yet.
var NotYet = errors.New("not yet")

// Stop wraps err so that [Until] returns err at once instead of waiting
// on; Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return stopError{err}
}

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }
func (s stopError) Unwrap() error { return s.err }

type timeoutError struct {
	total time.Duration
	last  error
}

func (e *timeoutError) Error() string {
	if e.last == nil || e.last == NotYet {
		return fmt.Sprintf("not within %s", e.total)
	}
	return fmt.Sprintf("not within %s: %v", e.total, e.last)
}

func (e *timeoutError) Is(target error) bool { return target == ErrTimedOut }
func (e *timeoutError) Unwrap() error        { return e.last }

// Every calls f every interval, the first time one interval from now,
// until ctx ends; a call slower than interval delays the next one. It
// returns when ctx ends: the one way the harness runs a periodic chore
// (a soak's report interval, a read-back, a pool's reaper).
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
