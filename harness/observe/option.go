package observe

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// setPositive stores v in dst when it is > 0; otherwise it says which
// setting (what) is not positive. The observers' options call it.
func setPositive[T int | int64 | time.Duration](what string, v T, dst *T) error {
	if v <= 0 {
		return fmt.Errorf("observe: %s %v is not positive", what, v)
	}
	*dst = v
	return nil
}

// setLogger stores l in dst; a nil logger is an error.
func setLogger(l *slog.Logger, dst **slog.Logger) error {
	if l == nil {
		return errors.New("observe: nil logger")
	}
	*dst = l
	return nil
}
