package chaos

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/protocol"
)

// The scenarios added so that mutants of the reference API are caught
// (docs/verify.md, "Mutation score") pass on the good API, contract probe
// included: single-task (a job of one task) and nats-stall-mid-call
// (JetStream calls that stall after the handshake), api-threads (one
// process of two threads), result-queue-full (a result queue of 64 that
// a results-nats outage fills: its posts must have answered 503, or the
// scenario proved nothing), cancel-in-outage (a cancel inside a
// results-nats outage: it must have met it, cancelMetOutage),
// cancel-unanswered (a cancel whose stream delete NATS never answers: the
// same) and
// create-in-outage (a create inside an api-nats outage: 503 too). A timing
// check that fails here under load:
// rerun once before chasing it.
func TestMutationScenariosPassGood(t *testing.T) {
	slowtest.Skip(t, "seven scenarios, about 30 s")
	for _, name := range []string{"single-task", "nats-stall-mid-call", "api-threads", "result-queue-full", "cancel-in-outage", "cancel-unanswered", "create-in-outage"} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			rep, err := runBuiltIn(t, name, RunOptions{Out: out, Seed: 1})
			require.NoError(t, err, "%s", failedOf(rep))
			require.Equal(t, report.Pass, rep.Verdict)
			var probes float64
			for _, c := range rep.Checks {
				if c.Name == "contract" {
					require.NotNil(t, c.OK)
					require.True(t, *c.OK, c.Summary)
					probes = c.Figures["probes"]
					switch name {
					case "result-queue-full":
						require.Positive(t, c.Figures["result_posts_503"], "the result queue filled: posts answered 503")
					case "cancel-in-outage", "cancel-unanswered":
						cancelMetOutage(t, filepath.Join(out, "history.jsonl"))
					case "create-in-outage":
						require.Positive(t, c.Figures["probes_503"], "the first create met the outage: it answered 503")
					}
				}
			}
			require.GreaterOrEqual(t, probes, 30.0, "the contract probes ran")
		})
	}
}

// cancelMetOutage requires the run's cancel to have met its results-nats
// fault: begun inside the window, and answered 503 in it — or held until
// the link came back. (Under -race the cancel waits behind the processor's
// failing connects, up to 4 s, and may outlast a 3 s outage: then its
// delete goes through and it answers 200.)
func cancelMetOutage(t *testing.T, hist string) {
	t.Helper()
	var start, end, began, at float64 = -1, -1, -1, -1
	status := 0
	_, err := history.Each(hist, func(e history.Event) error {
		switch {
		case e.Kind == history.KindFault && e.Link == protocol.LinkResultsNATS && e.Phase == "start" && start < 0:
			start = e.T
		case e.Kind == history.KindFault && e.Link == protocol.LinkResultsNATS && e.Phase == "end" && end < 0:
			end = e.T
		case e.Kind == history.KindContract && e.Name == "cancel-job":
			began, at, status = e.T-e.MS/1000, e.T, e.Status
		}
		return nil
	})
	require.NoError(t, err)
	require.True(t, start >= 0 && end > start, "no results-nats window")
	require.True(t, began >= start && began < end, "the cancel began at %.3fs, outside the window %.3f–%.3fs", began, start, end)
	require.True(t, status == http.StatusServiceUnavailable || at >= end,
		"the cancel answered %d at %.3fs, inside the window that ended at %.3fs: it did not meet the outage", status, at, end)
}

// runBuiltIn runs the built-in scenario name, for at most two minutes.
func runBuiltIn(t *testing.T, name string, o RunOptions) (*report.Report, error) {
	t.Helper()
	sc, ok := Lookup(name)
	require.True(t, ok, "no built-in scenario %q", name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return Run(ctx, sc, o)
}

func failedOf(rep *report.Report) string {
	if rep == nil {
		return "no report"
	}
	return failed(rep)
}
