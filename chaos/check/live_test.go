package check_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/history"
)

// TestJobOf: a soak routes each event to its job by the job field, the
// task id, the stream (also inside an ack reply) or the API path.
func TestJobOf(t *testing.T) {
	for want, e := range map[int64]history.Event{
		7:  {Kind: history.KindJob, Job: 7, JobStatus: "SUCCESS"},
		12: {Kind: history.KindPublish, Task: "12-340", SSeq: 340},
		3:  {Kind: history.KindAck, Reply: "$JS.ACK.job_3.job-3-consumer.1.5.5.1700000000000000000.0"},
		4:  {Kind: history.KindConfig, Stream: "job_4"},
		5:  {Kind: history.KindHTTP, Path: "/api/v2/jobs/5/tasks/"},
		0:  {Kind: history.KindHTTP, Path: "/api/v2/jobs/"},
	} {
		require.Equal(t, want, check.JobOf(&e), "%+v", e)
	}
	for _, e := range []history.Event{
		{Kind: history.KindServer, Connections: 3},
		{Kind: history.KindFault, ID: "f1", Phase: "start"},
		{Kind: history.KindPublish, Task: "img-1"},
		{Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: "/api/v2/"},
	} {
		require.Zero(t, check.JobOf(&e), "%+v", e)
	}
	require.Len(t, check.PerJob(check.Params{}), 8)
	require.Len(t, check.Window(check.Params{}), 4)
}
