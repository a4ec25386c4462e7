// Package observe holds the observers that feed a run's recorder without
// changing what they observe (docs/scenarios.md, "Links"; docs/history.md):
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
	"log/slog"
)

// MaxBody is the default bound, in bytes, on a body the [Proxy] captures to
// record tasks from, and on any monitoring response the [Sampler] reads.
const MaxBody = 16 << 20

// discardLogger is the logger of an observer that was given none.
var discardLogger = slog.New(slog.DiscardHandler)
