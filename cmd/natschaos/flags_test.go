package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// --job-id names a job the run did not create: publishing made-up tasks
// into it needs --publish-into-job, else the API must publish its own
// (--observe-publishes). Checked before anything starts: exit 2.
func TestJobIDNeedsPublishFlag(t *testing.T) {
	base := runFlags{natsURLs: []string{"nats://127.0.0.1:1"}, apiURL: "http://127.0.0.1:1", jobID: 7}
	_, err := base.external(io.Discard, io.Discard)
	require.ErrorAs(t, err, new(usageError))
	require.ErrorContains(t, err, "--observe-publishes")
	require.ErrorContains(t, err, "--publish-into-job")

	for _, f := range []func(*runFlags){
		func(f *runFlags) { f.observePublishes = true },
		func(f *runFlags) { f.publishIntoJob = true },
	} {
		ok := base
		f(&ok)
		x, err := ok.external(io.Discard, io.Discard)
		require.NoError(t, err)
		require.EqualValues(t, 7, x.JobID)
	}
	for _, f := range []func(*runFlags){
		func(f *runFlags) { f.jobID = 0; f.publishIntoJob = true },
		func(f *runFlags) { f.publishIntoJob, f.observePublishes = true, true },
	} {
		bad := base
		f(&bad)
		_, err := bad.external(io.Discard, io.Discard)
		require.ErrorAs(t, err, new(usageError))
		require.ErrorContains(t, err, "--publish-into-job")
	}

	code := run([]string{"run", "-s", "baseline", "--out", t.TempDir(),
		"--nats-url", "nats://127.0.0.1:1", "--api-url", "http://127.0.0.1:1", "--job-id", "7"})
	require.Equal(t, 2, code)
}
