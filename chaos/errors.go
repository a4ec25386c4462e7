package chaos

import (
	"errors"
	"fmt"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
)

// ErrViolated is returned (wrapped) by Run when an invariant was violated:
// the command exits 1.
var ErrViolated = errors.New("an invariant was violated")

// ErrInconclusive is returned (wrapped, with the reason) by Run when the run
// cannot be judged: the harness could not drive load, the history has no
// end phase, or no-loss could not decide. The command exits 3.
var ErrInconclusive = errors.New("inconclusive")

// UsageError is a bad flag, argument or scenario: the command exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// IsUsage says whether err is bad usage or a bad scenario file (exit 2).
func IsUsage(err error) bool {
	var u *UsageError
	var f *FileError
	var fe *faults.FieldError
	return errors.As(err, &u) || errors.As(err, &f) || errors.As(err, &fe)
}

// VerdictError is nil for a passing report, wraps ErrViolated for a failing
// one and ErrInconclusive, with the reason, for an inconclusive one.
func VerdictError(name string, rep *report.Report) error {
	switch rep.Verdict {
	case report.Pass:
		return nil
	case report.Inconclusive:
		return fmt.Errorf("%s: %w: %s", name, ErrInconclusive, rep.Why())
	}
	return fmt.Errorf("%s: %w", name, ErrViolated)
}
