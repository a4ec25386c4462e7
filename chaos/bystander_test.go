package chaos

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/harness/worker/workertest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/protocol"
)

// TestExternalRunLeavesBystandersAlone is the blast radius of one job: a
// full external run (built-in workers, the run creates its job) against the
// reference API on a real nats-server, where two other jobs live on the
// same API and NATS. The idle bystander, created and filled with 20 tasks
// before the run, ends with 0 results stored and 0 deliveries; the busy
// bystander, worked by someone else's worker during the run, is not in the
// run's verdicts: its acks are dropped at the source and counted as foreign.
func TestExternalRunLeavesBystandersAlone(t *testing.T) {
	slowtest.Skip(t, "a full external run (about 10 s)")
	const bystanderTasks, busyTasks, runTasks = 20, 300, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The platform's API reaches NATS through the addresses the run's
	// proxies will take over (--proxy); until the run they forward as is.
	pl := startPlatform(t, api.Config{ConnectTimeout: 500 * time.Millisecond, OpTimeout: time.Second, AckWait: 4 * time.Second, MaxDeliver: 3})
	proxies := pl.proxies(t, ctx)
	// Two jobs that are not the run's, filled before it starts; the idle
	// one's consumer exists, as after a first /tasks call of the platform.
	idle := pl.job(t, ctx, "bystander", bystanderTasks, true)
	busy := pl.job(t, ctx, "busy", busyTasks, false)

	// Someone else's worker on the busy job, straight to the API, during the run.
	wc := worker.DefaultConfig(pl.apiURL+protocol.APIBase, "theirs")
	wc.Token, wc.Jobs, wc.BatchSize, wc.ProcessTime, wc.IdleSleep = pl.token, []int64{busy}, 4, 10*time.Millisecond, 100*time.Millisecond
	wc.JobsLimit = harness.RunJobsLimit // a job filter needs every job listed: without a limit the list has one job per poll
	stopTheirs := workertest.Start(t, ctx, 1, wc)

	sc, ok := Lookup("baseline")
	require.True(t, ok)
	sc.Workload.Tasks = runTasks
	var out, errOut syncio.Buffer
	dir := t.TempDir()
	rep, err := Run(ctx, sc, RunOptions{Out: dir, Seed: 1, Proxies: proxies, External: pl.external(&out, &errOut)})
	stopTheirs()
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	require.Equal(t, report.Pass, rep.Verdict)
	require.Equal(t, runTasks, rep.Tasks.Published)
	require.Equal(t, runTasks, rep.Tasks.Stored)

	// The idle bystander: nothing delivered, nothing stored.
	pl.untouched(t, ctx, idle, bystanderTasks)

	// The busy bystander was worked by its own worker only, and the run
	// dropped what it saw of it.
	bj, _ := pl.api.Job(busy)
	t.Logf("busy bystander job %d: %d of %d stored by its own worker; the run's report: verdict %s, %d/%d stored, foreign %d",
		busy, bj.Progress.Stored, busyTasks, rep.Verdict, rep.Tasks.Stored, rep.Tasks.Published, rep.Foreign)
	require.Positive(t, bj.Progress.Stored)
	require.Positive(t, rep.Foreign, "the busy bystander's acks reached the observer and were dropped")
	events, _, err := history.Load(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	run := rep.Tasks.Published
	for _, e := range events {
		if e.Kind == history.KindAck || e.Kind == history.KindAdvisory || e.Kind == history.KindHandout {
			if e.Reply != "" {
				require.Contains(t, e.Reply, "."+protocol.StreamName(3)+".", "an event of another job in the history: %+v", e)
			}
			if e.Stream != "" {
				require.Equal(t, protocol.StreamName(3), e.Stream, "%+v", e)
			}
		}
	}
	require.Equal(t, runTasks, run)
	require.NotContains(t, errOut.String(), "cancelled job", "a finished job needs no cancel")
}

// A cancel_job fault on a --job-id job would cancel a job the run did not
// create: refused before anything starts (exit 2).
func TestCancelJobRefusedOnAJobNotCreated(t *testing.T) {
	sc, ok := Lookup("terminal-job")
	require.True(t, ok)
	_, _, err := Prepare(sc, RunOptions{Seed: 1, External: &External{JobID: 7, ObservePublishes: true}})
	require.True(t, IsUsage(err), "%v", err)
	require.ErrorContains(t, err, "cancel_job needs a job the run created: job 7 (--job-id) is not one")
	_, _, err = Prepare(sc, RunOptions{Seed: 1, External: &External{}})
	require.NoError(t, err, "on the job the run creates")
}
