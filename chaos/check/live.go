package check

import (
	"time"
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
