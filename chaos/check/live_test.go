package check_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/history"
)

// TestPerJobAndWindow: the checks a soak judges per job and per interval.
func TestPerJobAndWindow(t *testing.T) {
	require.Len(t, check.PerJob(check.Params{}), 8)
	require.Len(t, check.Window(check.Params{}), 4)
}

// stallJob is a job's history in a soak: 3 tasks published at 0, a /tasks
// call at asks[i] (each 0.1 s long, empty but the last, which hands the
// tasks out), results and stores after. ack_wait 2 s: max stall 1 s.
func stallJob(asks ...float64) []history.Event {
	R := func(i int) string {
		return fmt.Sprintf("$JS.ACK.job_3.job-3-consumer.1.%d.%d.1700000000000000000.0", i, i)
	}
	ev := []history.Event{{T: 0.001, Kind: history.KindConfig, AckWait: 2, MaxDeliver: 3, MaxAckPending: 10,
		Stream: "job_3", ConsumerName: "job-3-consumer", WorkerHTTPTimeout: 1, ConnectTimeout: 0.5}}
	for i := 1; i <= 3; i++ {
		ev = append(ev, history.Event{T: 0.01, Kind: history.KindPublish, Task: fmt.Sprintf("3-%d", i), SSeq: uint64(i)})
	}
	for k, t := range asks {
		n := 0
		if k == len(asks)-1 {
			n = 3
		}
		ev = append(ev, history.Event{T: t + 0.1, Kind: history.KindHTTP, Worker: "w1", Path: "/api/v2/jobs/3/tasks/", Status: 200, MS: 100, Batch: 24, N: n})
	}
	last := asks[len(asks)-1] + 0.1
	for i := 1; i <= 3; i++ {
		ev = append(ev, history.Event{T: last + 0.001, Kind: history.KindHandout, Task: fmt.Sprintf("3-%d", i), Reply: R(i), SSeq: uint64(i), DSeq: uint64(i), DC: 1, Worker: "w1"})
	}
	for i := 1; i <= 3; i++ {
		ev = append(ev, history.Event{T: last + 0.2, Kind: history.KindResult, Task: fmt.Sprintf("3-%d", i), Reply: R(i), Worker: "w1", Status: 200},
			history.Event{T: last + 0.3, Kind: history.KindStored, Task: fmt.Sprintf("3-%d", i)})
	}
	return ev
}

func perJobStall() check.Checker {
	for _, c := range check.PerJob(check.Params{}) {
		if c.Name() == "stall" {
			return c
		}
	}
	panic("no stall in PerJob")
}

// TestPerJobStall: a soak's job asked once (a 503 during an outage), then
// left 10 s while the workers served the other jobs, is not stalled; one
// asked every 0.3 s for 5 s and handed nothing is. The plain stall check
// (one job per run) finds both stalled.
func TestPerJobStall(t *testing.T) {
	away := stallJob(2, 12)
	var asking []float64
	for x := 0.5; x < 5.5; x += 0.3 {
		asking = append(asking, x)
	}
	kept := stallJob(asking...)

	r := check.Check(perJobStall(), away)
	require.True(t, r.Passed(), r.String())
	r = check.Check(perJobStall(), kept)
	require.True(t, r.Failed(), r.String())
	require.Equal(t, 1, r.Violations, r.String())

	r = check.Check(check.NewStall(check.Params{}), away)
	require.True(t, r.Failed(), "without the cut: %s", r.String())
}
