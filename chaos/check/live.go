package check

import (
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/harness/ackreply"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// PerJob returns a fresh instance of every per-task check, the ones a soak
// judges over each job's own events when the job ends: no-loss,
// max-deliver, duplicates, redelivery-timing, ack-in-time, orphaned, stall
// and terminal-guard.
//
// Its stall is cut where nobody asked for the job's tasks for longer than
// PerJobAskGap: the workers serve the jobs in turn, so a job waits while
// they serve the others, and that wait is not a stall.
func PerJob(p Params) []Checker {
	st := NewStall(p)
	st.askGap = PerJobAskGap.Seconds()
	return []Checker{
		NewNoLoss(p), NewMaxDeliver(p), NewDuplicates(p), NewRedeliveryTiming(p),
		NewAckInTime(p), NewOrphaned(p), st, NewTerminalGuard(p),
	}
}

// PerJobAskGap is the longest time without a /tasks call on a job that a
// stall of PerJob spans (the workers' idle sleep is 0.2–0.5 s).
const PerJobAskGap = time.Second

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
	if n, ok := protocol.JobOfStream(stream); ok {
		return n
	}
	if e.Kind == history.KindHTTP {
		if n, ok := jobOfPath(e.Path); ok {
			return n
		}
	}
	return 0
}
