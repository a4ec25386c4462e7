package history

import (
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// JobOf is the job an event belongs to: its job field, the job of its task
// ("<job>-<n>"), of its stream ("job_<id>", also in an ack reply subject)
// or of its API path (/jobs/{id}/...). 0 when it names none: faults,
// phases, server and process samples, connections, probes, GET /jobs/.
// Observers that keep one job's events (external mode, a soak) and the
// checkers that judge each job on its own use it alike.
func JobOf(e *Event) int64 {
	if e.Job != 0 {
		return e.Job
	}
	if e.Task != "" {
		if id, _, ok := strings.Cut(e.Task, "-"); ok {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				return n
			}
		}
	}
	stream := e.Stream
	if stream == "" && e.Reply != "" {
		if m, err := ackreply.Parse(e.Reply); err == nil {
			stream = m.Stream
		}
	}
	if n, ok := protocol.JobOfStream(stream); ok {
		return n
	}
	if e.Kind == KindHTTP {
		if n, ok := protocol.JobOfPath(e.Path); ok {
			return n
		}
	}
	return 0
}
