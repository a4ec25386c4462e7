package chaos_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/protocol"
)

// TestSoakExternal is a soak against an external target: the reference
// API, served on its own, on a real nats-server, where a bystander job —
// created and filled with 20 tasks before the soak, its consumer made —
// lives on the same API and NATS. The soak creates its jobs through the
// API and judges at least two; the bystander ends with nothing delivered,
// nothing stored, still STARTED, and no event of it in the history; every
// job the soak created has ended. Interrupted, the soak cancels its jobs
// in flight.
func TestSoakExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: external soaks of seconds")
	}
	const bystanderTasks = 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := natsdtest.StartNATS(t)
	freeAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	listen := map[string]string{faults.LinkAPINATS: freeAddr(), faults.LinkResultsNATS: freeAddr()}
	// The API reaches NATS through the addresses the soak's proxies take
	// over (--proxy); until a soak they forward as is (a soak closes them).
	proxiesFor := func() faults.Proxies {
		proxies, err := faults.NewEmbedded()
		require.NoError(t, err)
		for link, addr := range listen {
			_, err := proxies.Create(ctx, link, addr, ns.Addr())
			require.NoError(t, err)
		}
		return proxies
	}
	proxies := proxiesFor()
	const token = "soak-external-token"
	sc, ok := chaos.Lookup("baseline")
	require.True(t, ok)
	a, err := api.New(api.Config{
		Token: token, NATSURL: "nats://" + listen[faults.LinkAPINATS], ResultsNATSURL: "nats://" + listen[faults.LinkResultsNATS],
		ConnectTimeout: sc.SUT.ConnectTimeout, AckWait: sc.SUT.AckWait, MaxDeliver: sc.SUT.MaxDeliver,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := a.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("api: %v", err)
		}
	}()
	defer func() { a.Close(); <-served }()
	apiURL := "http://" + ln.Addr().String()
	client := &harness.APIClient{BaseURL: apiURL + "/api/v2", Token: token}

	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	bystander, err := client.CreateJob(ctx, "bystander", bystanderTasks)
	require.NoError(t, err)
	require.NoError(t, harness.Publish(ctx, js, bystander, bystanderTasks, history.Discard))
	_, err = js.CreateOrUpdateConsumer(ctx, protocol.StreamName(bystander), a.ConsumerConfig(bystander))
	require.NoError(t, err)
	consumerOf := func(job int64) *jetstream.ConsumerInfo {
		c, err := js.Consumer(ctx, protocol.StreamName(job), protocol.ConsumerName(job))
		require.NoError(t, err)
		info, err := c.Info(ctx)
		require.NoError(t, err)
		return info
	}
	// untouched: the bystander as it was before the soak.
	untouched := func(t *testing.T) {
		t.Helper()
		job, ok := a.Job(bystander)
		require.True(t, ok)
		info := consumerOf(bystander)
		require.Equal(t, protocol.StatusStarted, job.Status, "the bystander is not cancelled")
		require.Zero(t, job.Progress.Stored, "results stored in the bystander")
		require.Zero(t, info.Delivered.Consumer, "deliveries of the bystander's tasks")
		require.EqualValues(t, bystanderTasks, info.NumPending)
	}
	// ended: every job but the bystander, from created on, is over.
	ended := func(t *testing.T, from int64) (n int) {
		t.Helper()
		for id := from; ; id++ {
			job, ok := a.Job(id)
			if !ok {
				return n
			}
			if id == bystander {
				continue
			}
			switch job.Status {
			case protocol.StatusSuccess, protocol.StatusFailure, protocol.StatusRevoked:
			default:
				t.Errorf("job %d the soak created is %s after it", id, job.Status)
			}
			n++
		}
	}
	external := func(out, errOut *syncio.Buffer) *chaos.External {
		return &chaos.External{
			NATSURLs: []string{ns.ClientURL()}, MonitorURLs: []string{ns.MonitorURL()}, APIURL: apiURL, APIToken: token,
			Listen: listen, ReadyTimeout: 20 * time.Second, Out: out, Err: errOut,
		}
	}

	t.Run("judged", func(t *testing.T) {
		var out, errOut syncio.Buffer
		dir := t.TempDir()
		rep, err := chaos.Soak(ctx, sc, chaos.SoakOptions{RunOptions: chaos.RunOptions{Out: dir, Seed: 3, Proxies: proxies, External: external(&out, &errOut)},
			Duration: 10 * time.Second, JobsInFlight: 2, JobSizeMin: 100, JobSizeMax: 300, ReportEvery: 5 * time.Second})
		require.NotNil(t, rep, "%v\n%s\n%s", err, out.String(), errOut.String())
		for _, j := range rep.FailedJobs {
			t.Logf("job %d %s %s: %+v", j.Job, j.Verdict, j.Why, j.Checks)
		}
		t.Logf("external soak: %s %s; %d jobs judged, %d published, %d stored, foreign %d", rep.Verdict, rep.Why, rep.Jobs.Judged, rep.TasksPublished, rep.TasksStored, rep.Foreign)
		if !raceDetector {
			// Under -race the stack is several times slower: its verdict
			// then judges timing (see TestSoakSmoke); the blast radius
			// below holds anyway.
			require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
			require.Equal(t, report.Pass, rep.Verdict)
			require.Equal(t, rep.Jobs.Judged, rep.Jobs.Passed)
		}
		require.Equal(t, "external", rep.Variant)
		require.GreaterOrEqual(t, rep.Jobs.Judged, 2)
		require.Equal(t, rep.TasksPublished, rep.TasksStored, "the stored results read back from the API")
		untouched(t)
		require.Equal(t, rep.Jobs.Judged, ended(t, bystander+1), "every job the soak created was judged")

		events, err := check.RunFile(filepath.Join(dir, "history"), check.Params{})
		require.NoError(t, err)
		require.True(t, events.Ended)
		seen := 0
		_, err = history.Each(filepath.Join(dir, "history"), func(e history.Event) error {
			if history.JobOf(&e) == bystander {
				seen++
			}
			return nil
		})
		require.NoError(t, err)
		require.Zero(t, seen, "events of the bystander in the history")
	})

	t.Run("interrupted", func(t *testing.T) {
		var out, errOut syncio.Buffer
		first := ended(t, bystander+1) + int(bystander) + 1 // the next job id
		ictx, stop := context.WithCancel(ctx)
		defer stop()
		done := make(chan struct{})
		var rep *chaos.SoakReport
		var soakErr error
		proxies := proxiesFor()
		go func() {
			defer close(done)
			// Slow workers: the jobs are still in flight when it stops.
			sc := sc
			sc.Workload.ProcessTime = 50 * time.Millisecond
			rep, soakErr = chaos.Soak(ictx, sc, chaos.SoakOptions{RunOptions: chaos.RunOptions{Out: t.TempDir(), Seed: 4, Proxies: proxies, External: external(&out, &errOut)},
				Duration: time.Minute, JobsInFlight: 2, JobSizeMin: 500, JobSizeMax: 500, ReportEvery: 5 * time.Second})
		}()
		require.Eventually(t, func() bool {
			j, ok := a.Job(int64(first))
			return ok && j.Progress.Stored > 0
		}, 30*time.Second, 20*time.Millisecond, "the soak's first job is worked (job %d)\n%s\n%s", first, &out, &errOut)
		stop()
		<-done
		require.NotNil(t, rep, "%v", soakErr)
		if !raceDetector {
			require.ErrorIs(t, soakErr, chaos.ErrInconclusive)
		}
		require.True(t, rep.Interrupted)
		require.Positive(t, rep.JobsInFlight)
		require.Contains(t, errOut.String(), "that this run created")
		t.Logf("interrupted external soak: %d jobs judged, %d in flight; stderr: %q", rep.Jobs.Judged, rep.JobsInFlight, errOut.String())
		untouched(t)
		ended(t, int64(first))
	})
}
