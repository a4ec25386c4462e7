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
		if n, ok := JobOfPath(e.Path); ok {
			return n
		}
	}
	return 0
}

// JobOfPath is the job id of an API path ".../jobs/{id}/..."; ok is false
// when the path names no job.
func JobOfPath(path string) (int64, bool) {
	_, rest, ok := strings.Cut(path, "/jobs/")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}
