package history

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJobOf: a soak, an external soak's filter and the checks of several
// jobs route each event to its job by the job field, the
// task id, the stream (also inside an ack reply) or the API path.
func TestJobOf(t *testing.T) {
	for want, e := range map[int64]Event{
		7:  {Kind: KindJob, Job: 7, JobStatus: "SUCCESS"},
		12: {Kind: KindPublish, Task: "12-340", SSeq: 340},
		3:  {Kind: KindAck, Reply: "$JS.ACK.job_3.job-3-consumer.1.5.5.1700000000000000000.0"},
		4:  {Kind: KindConfig, Stream: "job_4"},
		5:  {Kind: KindHTTP, Path: "/api/v2/jobs/5/tasks/"},
		0:  {Kind: KindHTTP, Path: "/api/v2/jobs/"},
	} {
		require.Equal(t, want, JobOf(&e), "%+v", e)
	}
	for _, e := range []Event{
		{Kind: KindServer, Connections: 3},
		{Kind: KindFault, ID: "f1", Phase: "start"},
		{Kind: KindPublish, Task: "img-1"},
		{Kind: KindHTTP, Worker: ProbeWorker, Path: "/api/v2/"},
	} {
		require.Zero(t, JobOf(&e), "%+v", e)
	}
}
