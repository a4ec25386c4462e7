package chaos

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/slowtest"
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
	slowtest.Skip(t, "external soaks of seconds")
	const bystanderTasks = 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The API reaches NATS through the addresses the soak's proxies take
	// over (--proxy); until a soak they forward as is (a soak closes them).
	sc, ok := Lookup("baseline")
	require.True(t, ok)
	pl := startPlatform(t, api.Config{ConnectTimeout: sc.SUT.ConnectTimeout, AckWait: sc.SUT.AckWait, MaxDeliver: sc.SUT.MaxDeliver})
	proxiesFor := func() faults.Proxies { return pl.proxies(t, ctx) }
	proxies := proxiesFor()
	a := pl.api
	bystander := pl.job(t, ctx, "bystander", bystanderTasks, true)
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

	t.Run("judged", func(t *testing.T) {
		var out, errOut syncio.Buffer
		dir := t.TempDir()
		rep, err := Soak(ctx, sc, SoakOptions{RunOptions: RunOptions{Out: dir, Seed: 3, Proxies: proxies, External: pl.external(&out, &errOut)},
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
		pl.untouched(t, ctx, bystander, bystanderTasks)
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
		var rep *SoakReport
		var soakErr error
		proxies := proxiesFor()
		go func() {
			defer close(done)
			// Slow workers: the jobs are still in flight when it stops.
			sc := sc
			sc.Workload.ProcessTime = 50 * time.Millisecond
			rep, soakErr = Soak(ictx, sc, SoakOptions{RunOptions: RunOptions{Out: t.TempDir(), Seed: 4, Proxies: proxies, External: pl.external(&out, &errOut)},
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
			require.ErrorIs(t, soakErr, ErrInconclusive)
		}
		require.True(t, rep.Interrupted)
		require.Positive(t, rep.JobsInFlight)
		require.Contains(t, errOut.String(), "that this run created")
		t.Logf("interrupted external soak: %d jobs judged, %d in flight; stderr: %q", rep.Jobs.Judged, rep.JobsInFlight, errOut.String())
		pl.untouched(t, ctx, bystander, bystanderTasks)
		ended(t, int64(first))
	})
}
