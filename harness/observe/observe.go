// Package observe holds the observers that feed a run's recorder without
// changing what they observe (DESIGN.md, "Links"; "History format"):
//
//   - [NATSObserver]: its own NATS connection, straight to the server, that
//     listens to ack subjects, JetStream advisories and (optionally) task
//     publishes, and emits ack, advisory and publish events;
//   - [Sampler]: polls the server's HTTP monitoring port (/varz, /jsz) and
//     emits server and consumer events; it makes no JetStream API call, so it
//     adds nothing to /jsz api.total;
//   - [Proxy]: the recording reverse proxy of the worker-api link, which also
//     applies the HTTP faults of a [faults.HTTPRules];
//   - [Prober]: the liveness prober of the API's NATS-free endpoint.
//
// Observers never judge: they record, and the checkers decide. Every
// observer is started by its constructor and must be stopped with Close by
// whoever started it.
package observe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
)

// MaxBody is the default bound, in bytes, on a body the [Proxy] captures to
// record tasks from, and on any monitoring response the [Sampler] reads.
const MaxBody = 16 << 20

// discardLogger is the logger of an observer that was given none.
var discardLogger = slog.New(slog.DiscardHandler)

// errClass names a transport error the way history http events do: timeout,
// refused, reset, eof, canceled, or error.
func errClass(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	default:
		return "error"
	}
}
