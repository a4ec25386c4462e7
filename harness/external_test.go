package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/api/apitest"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/internal/tcptest"
	"github.com/natschaos/natschaos/protocol"
)

// extTarget is an external target made of real parts: an embedded
// nats-server with JetStream and monitoring, and the reference API served
// on 127.0.0.1, configured with the fixed addresses its NATS links' proxies
// will listen on (as a user would with --proxy).
type extTarget struct {
	nats   *natsd.Server
	api    *api.API
	apiURL string // http://host:port
	listen map[string]string
}

func startExtTarget(t testing.TB) *extTarget {
	t.Helper()
	x := &extTarget{nats: natsdtest.StartNATS(t), listen: map[string]string{
		faults.LinkAPINATS: tcptest.FreeAddr(t), faults.LinkResultsNATS: tcptest.FreeAddr(t),
	}}
	cfg := testConfig().API
	cfg.NATSURL = "nats://" + x.listen[faults.LinkAPINATS]
	cfg.ResultsNATSURL = "nats://" + x.listen[faults.LinkResultsNATS]
	x.api, x.apiURL = apitest.Serve(t, cfg)
	return x
}

// config is an ExternalConfig against x that prints into out and errOut.
func (x *extTarget) config(out, errOut *syncio.Buffer) ExternalConfig {
	tc := testConfig()
	return ExternalConfig{
		ExternalTarget: ExternalTarget{
			NATSURLs: []string{x.nats.ClientURL()}, MonitorURLs: []string{x.nats.MonitorURL()},
			APIURL: x.apiURL, APIToken: apitest.Token, Listen: x.listen,
			ReadyTimeout: 20 * time.Second, Out: out, Err: errOut,
		},
		Worker: tc.Worker, Workers: 1, ConnectTimeout: tc.API.ConnectTimeout,
	}
}

// TestExternalCancelsTheJobItCreated: a run whose context is cancelled in
// the middle of its job (Ctrl-C, SIGTERM, an error) still cancels the job
// it created when it closes, and says so; a run driving a job it did not
// create (--job-id) never cancels it.
func TestExternalCancelsTheJobItCreated(t *testing.T) {
	x := startExtTarget(t)
	slowWorker := func(cfg ExternalConfig) ExternalConfig {
		cfg.Worker.ProcessTime = 20 * time.Millisecond // 200 tasks: seconds of work
		return cfg
	}

	t.Run("created", func(t *testing.T) {
		var out, errOut syncio.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e, err := StartExternal(ctx, slowWorker(x.config(&out, &errOut)), nil)
		require.NoError(t, err)
		id, err := e.NewJob(ctx, 200)
		require.NoError(t, err)
		require.NoError(t, e.StartWorkers(ctx))
		require.NoError(t, e.Ready(ctx))
		polltest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
			if j, _ := x.api.Job(id); j.Progress.Stored == 0 {
				return errors.New("nothing stored yet")
			}
			return nil
		})
		cancel() // the run's context ends mid-run
		e.Close()
		j, ok := x.api.Job(id)
		require.True(t, ok)
		require.Less(t, j.Progress.Stored, 200, "the job was cut in the middle")
		require.Equal(t, protocol.StatusRevoked, j.Status, "the job the run created is cancelled on the way out\n%s", errOut.String())
		require.Contains(t, errOut.String(), "cancelled job 1 that this run created")
		t.Logf("job %d: %s with %d of 200 stored; stderr: %q", id, j.Status, j.Progress.Stored, errOut.String())
	})

	t.Run("not created", func(t *testing.T) {
		const theirs int64 = 2 // created below, once the proxies the API reaches NATS through exist
		var out, errOut syncio.Buffer
		cfg := slowWorker(x.config(&out, &errOut))
		cfg.JobID = theirs
		_, err := StartExternal(context.Background(), cfg, nil)
		require.ErrorContains(t, err, "--publish-into-job", "publishing into a job the run did not create needs the flag")

		cfg.PublishIntoJob = true
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e, err := StartExternal(ctx, cfg, nil)
		require.NoError(t, err)
		created, err := (&APIClient{BaseURL: x.apiURL + "/api/v2", Token: apitest.Token}).CreateJob(ctx, "theirs", 200)
		require.NoError(t, err)
		require.EqualValues(t, theirs, created)
		id, err := e.NewJob(ctx, 200)
		require.NoError(t, err)
		require.Equal(t, theirs, id)
		require.Contains(t, errOut.String(), "publishing 200 made-up tasks into job 2, which this run did not create")
		require.NoError(t, e.StartWorkers(ctx))
		require.NoError(t, e.Ready(ctx))
		cancel()
		e.Close()
		j, ok := x.api.Job(id)
		require.True(t, ok)
		require.Equal(t, protocol.StatusStarted, j.Status, "a job the run did not create is never cancelled")
		require.NotContains(t, errOut.String(), "cancelled")
	})
}
