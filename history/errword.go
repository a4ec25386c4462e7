package history

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// The words of an http event's err field, as every caller records them.
const (
	ErrTimeout  = "timeout"  // the caller's deadline passed
	ErrReset    = "reset"    // the connection was reset or broken
	ErrRefused  = "refused"  // nothing listened
	ErrEOF      = "eof"      // the connection closed before a whole response
	ErrCanceled = "canceled" // the caller gave up (shutdown)
	ErrOther    = "error"    // anything else

	// ErrBadBody is a contract event's err when the API answered the
	// status the contract allows with a body the contract does not.
	ErrBadBody = "bad-body"
)

// ErrWord names a transport error with one of the Err* words. net/http does
// not always wrap the syscall error, so the texts it is known to use are
// matched as well.
func ErrWord(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrEOF
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return ErrReset
	case strings.Contains(msg, "connection refused"):
		return ErrRefused
	case strings.Contains(msg, "EOF"), strings.Contains(msg, "server closed idle connection"):
		return ErrEOF
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline exceeded"):
		return ErrTimeout
	}
	return ErrOther
}
