package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/api/apitest"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/internal/tcptest"
	"github.com/natschaos/natschaos/protocol"
)

// testPlatform is a platform the harness did not start, for the tests of
// external mode: a real nats-server and the reference API served on its
// own, reaching NATS through the addresses a run's proxies take over
// (--proxy), with a client and a JetStream connection of the test's own.
type testPlatform struct {
	ns     *natsd.Server
	listen map[string]string // link → the address the API dials
	api    *api.API
	apiURL string // http://host:port, without /api/v2
	token  string
	client *harness.APIClient
	js     jetstream.JetStream
}

// startPlatform starts the platform; cfg's token and NATS URLs are set
// here. Everything stops when the test ends.
func startPlatform(t *testing.T, cfg api.Config) *testPlatform {
	t.Helper()
	p := &testPlatform{ns: natsdtest.StartNATS(t), token: "platform-token"}
	p.listen = map[string]string{faults.LinkAPINATS: tcptest.FreeAddr(t), faults.LinkResultsNATS: tcptest.FreeAddr(t)}
	cfg.Token, cfg.NATSURL, cfg.ResultsNATSURL = p.token, "nats://"+p.listen[faults.LinkAPINATS], "nats://"+p.listen[faults.LinkResultsNATS]
	p.api, p.apiURL = apitest.Serve(t, cfg)
	p.client = &harness.APIClient{BaseURL: p.apiURL + protocol.APIBase, Token: p.token}
	_, p.js = natsdtest.ConnectJS(t, p.ns.ClientURL())
	return p
}

// proxies are embedded proxies on the API's NATS addresses, forwarding to
// NATS as they are until a run takes them over (a run closes them: a
// second run needs new ones).
func (p *testPlatform) proxies(t *testing.T, ctx context.Context) faults.Proxies {
	t.Helper()
	proxies, err := faults.NewEmbedded()
	require.NoError(t, err)
	for link, addr := range p.listen {
		_, err := proxies.Create(ctx, link, addr, p.ns.Addr())
		require.NoError(t, err)
	}
	return proxies
}

// job creates a job of n tasks through the API and publishes them, as the
// platform drives its own jobs; with consumer, its consumer exists too, as
// after a first /tasks call.
func (p *testPlatform) job(t *testing.T, ctx context.Context, name string, n int, consumer bool) int64 {
	t.Helper()
	id, err := p.client.CreateJob(ctx, name, n)
	require.NoError(t, err)
	require.NoError(t, harness.Publish(ctx, p.js, id, n, history.Discard))
	if consumer {
		_, err = p.js.CreateOrUpdateConsumer(ctx, protocol.StreamName(id), p.api.ConsumerConfig(id))
		require.NoError(t, err)
	}
	return id
}

// external is the External of a run or soak against the platform, its
// output written to out and errOut.
func (p *testPlatform) external(out, errOut *syncio.Buffer) *External {
	return &External{
		NATSURLs: []string{p.ns.ClientURL()}, MonitorURLs: []string{p.ns.MonitorURL()}, APIURL: p.apiURL, APIToken: p.token,
		Listen: p.listen, ReadyTimeout: 20 * time.Second, Out: out, Err: errOut,
	}
}

// untouched requires that job, a bystander of n tasks made by p.job with
// its consumer, is as it was made: still STARTED, no result stored, none
// of its tasks delivered or pending an ack, all n pending.
func (p *testPlatform) untouched(t *testing.T, ctx context.Context, job int64, n int) {
	t.Helper()
	j, ok := p.api.Job(job)
	require.True(t, ok)
	info := p.consumer(t, ctx, job)
	t.Logf("bystander job %d: %d results stored, stored ids %v, status %s; consumer delivered %d, ack pending %d, pending %d",
		job, j.Progress.Stored, j.StoredIDs, j.Status, info.Delivered.Consumer, info.NumAckPending, info.NumPending)
	require.Equal(t, protocol.StatusStarted, j.Status, "the bystander is not cancelled")
	require.Zero(t, j.Progress.Stored, "results stored in the bystander")
	require.Empty(t, j.StoredIDs)
	require.Zero(t, info.Delivered.Consumer, "deliveries of the bystander's tasks")
	require.Zero(t, info.NumAckPending)
	require.EqualValues(t, n, info.NumPending)
}

// consumer is the job's consumer as NATS has it now.
func (p *testPlatform) consumer(t *testing.T, ctx context.Context, job int64) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := p.js.Consumer(ctx, protocol.StreamName(job), protocol.ConsumerName(job))
	require.NoError(t, err)
	info, err := c.Info(ctx)
	require.NoError(t, err)
	return info
}
