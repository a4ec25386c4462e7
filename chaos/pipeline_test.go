package chaos

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/slowtest"
)

// TestMultiPipelineScenario runs the multi-pipeline scenario — three jobs of
// two pipelines in flight at once, three worker groups — on the good API,
// which passes every check, and on wrong-pipeline, whose job list ignores
// the pipelines asked for: pipeline fails, and no other check does.
func TestMultiPipelineScenario(t *testing.T) {
	slowtest.Skip(t, "two real runs (a few seconds each)")
	for _, tt := range []struct {
		variant string
		verdict string
		failed  []string
	}{
		{"good", report.Pass, nil},
		{"wrong-pipeline", report.Fail, []string{"pipeline"}},
	} {
		t.Run(tt.variant, func(t *testing.T) {
			out := t.TempDir()
			rep, err := runBuiltIn(t, "multi-pipeline", RunOptions{Out: out, Variant: tt.variant, Seed: 7})
			require.NotNil(t, rep, "%v", err)
			var failed []string
			for _, c := range rep.Checks {
				if c.OK != nil && !*c.OK {
					failed = append(failed, c.Name)
				}
			}
			require.Equal(t, tt.verdict, rep.Verdict, "failed: %v", failed)
			require.Equal(t, tt.failed, failed)

			// The history holds the three jobs, each event naming its
			// pipeline, and every /tasks call the pipelines its worker asked for.
			events, _, err := history.Load(filepath.Join(out, "history.jsonl"))
			require.NoError(t, err)
			pipelines := map[int64]string{}
			asked := map[string]string{}
			for _, e := range events {
				switch {
				case e.Kind == history.KindJob:
					pipelines[e.Job] = e.Pipeline
				case e.Kind == history.KindHTTP && e.Worker != history.ProbeWorker && filepath.Base(e.Path) == "tasks":
					asked[e.Worker] = e.Pipelines
				}
			}
			first := int64(harness.EmbeddedFirstJobID)
			require.Equal(t, map[int64]string{first: "detect", first + 1: "classify", first + 2: "detect"}, pipelines)
			require.Equal(t, map[string]string{"w1": "detect", "w2": "classify", "w3": "detect,classify"}, asked)
			for _, c := range rep.Checks {
				if c.Name == "pipeline" {
					require.Positive(t, c.Figures["calls_judged"], c.Summary)
				}
			}
		})
	}
}
