package check

import (
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/harness/ackreply"
)

// PerJob returns a fresh instance of every per-task check, the ones a soak
// judges over each job's own events when the job ends: no-loss,
// max-deliver, duplicates, redelivery-timing, ack-in-time, orphaned, stall
// and terminal-guard.
func PerJob(p Params) []Checker {
	return []Checker{
		NewNoLoss(p), NewMaxDeliver(p), NewDuplicates(p), NewRedeliveryTiming(p),
		NewAckInTime(p), NewOrphaned(p), NewStall(p), NewTerminalGuard(p),
	}
}

// Window returns a fresh instance of every check a soak judges per report
// interval over every event of the interval: tasks-latency, fast-503,
// liveness and connection-flood.
func Window(p Params) []Checker {
	return []Checker{NewTasksLatency(p), NewFast503(p), NewLiveness(p), NewConnectionFlood(p)}
}

// JobOf is the job an event belongs to: its job field, the job of its task
// ("<job>-<n>"), of its stream ("job_<id>", also in an ack reply subject)
// or of its API path (/jobs/{id}/...). 0 when it names none: faults,
// phases, server and process samples, connections, probes, GET /jobs/.
func JobOf(e *history.Event) int64 {
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
	if id, ok := strings.CutPrefix(stream, "job_"); ok {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			return n
		}
	}
	if e.Kind == history.KindHTTP {
		if n, ok := jobOfPath(e.Path); ok {
			return n
		}
	}
	return 0
}
