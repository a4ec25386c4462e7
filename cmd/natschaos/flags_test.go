package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/faults"
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

// The default run id of the proxies on a remote toxiproxy is stable for a
// target (so the next run removes what a killed one left), ignores
// credentials, and differs between targets; --run-id overrides it.
func TestProxyRunID(t *testing.T) {
	x := func(api, nats string) *chaos.External {
		return &chaos.External{APIURL: api, NATSURLs: []string{nats}}
	}
	id := func(f runFlags, ext *chaos.External) string {
		t.Helper()
		s, err := f.proxyRunID(ext)
		require.NoError(t, err)
		require.NoError(t, faults.ValidRunID(s))
		return s
	}
	a := id(runFlags{}, x("http://api:8000", "nats://u:p@nats:4222"))
	require.Equal(t, a, id(runFlags{}, x("http://api:8000", "nats://u:p@nats:4222")), "stable")
	require.Equal(t, a, id(runFlags{}, x("http://api:8000", "nats://other:secret@nats:4222")), "credentials do not count")
	require.NotEqual(t, a, id(runFlags{}, x("http://api2:8000", "nats://nats:4222")), "another target")
	require.Equal(t, id(runFlags{}, nil), id(runFlags{}, nil), "embedded: stable on one host")
	require.Equal(t, "mine", id(runFlags{runID: "mine"}, nil))
	_, err := runFlags{runID: "a-b"}.proxyRunID(nil)
	require.ErrorAs(t, err, new(usageError))
	require.Equal(t, 2, run([]string{"run", "-s", "baseline", "--out", t.TempDir(), "--run-id", "no/slash"}))
}
