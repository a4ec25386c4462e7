package chaos_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
)

// failedSoak is an interrupted soak's report with a failed job, an
// inconclusive one, a failed interval and a series past its bound.
func failedSoak() *chaos.SoakReport {
	return &chaos.SoakReport{Kind: "soak", Scenario: "baseline", Variant: "slow-leak", Seed: 7, Verdict: report.Fail,
		Why: "1 of 3 jobs failed (no-loss)", Final: true, Interrupted: true, Elapsed: 90, Duration: 600,
		Jobs: chaos.Counts{Judged: 3, Passed: 1, Failed: 1, Inconclusive: 1}, Intervals: chaos.Counts{Judged: 3, Passed: 2, Failed: 1},
		ViolationsByCheck: map[string]int{"no-loss": 2},
		FailedJobs: []chaos.JobVerdict{
			{Job: 4, Verdict: report.Fail, Published: 30, From: 1, To: 20, Checks: []chaos.SoakCheck{
				{Name: "no-loss", Verdict: report.Fail, Violations: 2, Summary: "2 tasks lost",
					Offending: []check.Offense{{Task: "t-9", T: 12.5, Detail: "published, never stored"}}}}},
			{Job: 6, Verdict: report.Inconclusive, Why: "timed out after 60s", Published: 30, From: 21, To: 81},
		},
		FailedIntervals: []chaos.IntervalVerdict{{Index: 2, From: 30, To: 60, Verdict: report.Fail, Checks: []chaos.SoakCheck{
			{Name: "liveness", Verdict: report.Fail, Violations: 1, Summary: "no progress for 12s"},
			{Name: "fast-503", Verdict: report.Pass, Summary: "ok"}}}},
		LastInterval: &chaos.IntervalVerdict{Index: 3, From: 60, To: 90, Verdict: report.Pass, Checks: []chaos.SoakCheck{
			{Name: "liveness", Verdict: report.Pass, Summary: "ok"}}},
		ResourceGrowth: &chaos.SoakCheck{Name: "resource-growth", Verdict: report.Fail, Violations: 1, Summary: "1 of 2 series grew past their bound",
			Offending: []check.Offense{{T: 88, Detail: "rss grew 3.00 MB/min"}},
			Figures: map[string]float64{"rss_MB_per_min": 3, "rss_MB_bound_per_min": 1, "rss_MB_first": 40, "rss_MB_last": 44,
				"goroutines_per_min": 0.1, "goroutines_bound_per_min": 5, "goroutines_first": 80, "goroutines_last": 81}},
		TasksPublished: 90, TasksStored: 58, TasksCalls: 400, CPUPer1000TasksCalls: 1.25,
		Settings: chaos.SoakSettings{JobsInFlight: 2, JobSizeMin: 20, JobSizeMax: 40, ReportEvery: 30, Workers: 3},
	}
}

// TestSoakJUnit: a failed job, a failed interval and resource-growth are
// <failure>s whose message is the check's summary; an inconclusive job and
// an interrupted soak are <error>s saying why; the file parses back.
func TestSoakJUnit(t *testing.T) {
	b, err := failedSoak().JUnit("/tmp/x").Marshal()
	require.NoError(t, err)
	var ts report.JUnitTestSuites
	require.NoError(t, xml.Unmarshal(b, &ts))
	byName := map[string]report.JUnitTestSuite{}
	var names []string
	for _, s := range ts.Suites {
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"job-4", "job-6", "interval-2", "interval-3", "soak"}, names)
	fail := func(suite, check string) *report.JUnitProblem {
		for _, c := range byName[suite].Cases {
			if c.Name == check {
				require.Equal(t, suite, c.Classname)
				return c.Failure
			}
		}
		t.Fatalf("%s: no testcase %s", suite, check)
		return nil
	}
	require.Equal(t, "2 tasks lost", fail("job-4", "no-loss").Message)
	require.Contains(t, fail("job-4", "no-loss").Body, "task=t-9")
	require.Equal(t, "no progress for 12s", fail("interval-2", "liveness").Message)
	require.Nil(t, fail("interval-2", "fast-503"))
	require.Nil(t, fail("interval-3", "liveness"))
	require.Equal(t, "1 of 2 series grew past their bound", fail("soak", "resource-growth").Message)
	require.Equal(t, 1, byName["job-6"].Errors)
	require.Contains(t, byName["job-6"].Cases[0].Error.Message, "timed out after 60s")
	require.Equal(t, 0, byName["soak"].Errors, "a failed soak is not an error")
	require.Equal(t, 3, ts.Failures)
	require.Equal(t, 1, ts.Errors)

	r := failedSoak()
	r.Verdict, r.Why = report.Inconclusive, "the soak was stopped after 90s of 600s"
	r.FailedJobs, r.FailedIntervals, r.ResourceGrowth.Verdict = nil, nil, report.Pass
	b, err = r.JUnit("").Marshal()
	require.NoError(t, err)
	ts = report.JUnitTestSuites{}
	require.NoError(t, xml.Unmarshal(b, &ts))
	s := ts.Suites[len(ts.Suites)-1]
	require.Equal(t, "soak", s.Name)
	require.Equal(t, 1, s.Errors)
	var why string
	for _, c := range s.Cases {
		if c.Error != nil {
			why = c.Error.Message
		}
	}
	require.Contains(t, why, "stopped after 90s of 600s")
}

// TestSoakIndex: the soak's page shows its verdict, figures, the series
// past their bound, the failed intervals and the failing jobs; Render
// writes it again from report.json alone.
func TestSoakIndex(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, chaos.IndexHTML)
	require.NoError(t, failedSoak().WriteIndex(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	page := string(b)
	for _, want := range []string{`id="verdict">FAIL<`, "1 of 3 jobs failed (no-loss)", "(interrupted)", "slow-leak",
		`<tr class="fail"><td>rss MB</td>`, `<tr class="ok"><td>goroutines</td>`, "rss grew 3.00 MB/min",
		`id="job-4"`, "2 tasks lost", "timed out after 60s", "no progress for 12s", "30–60 s", "CPU s per 1,000 /tasks", "1.250"} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, "http://")
	require.NotContains(t, page, "https://")

	require.NoError(t, os.Remove(path))
	js, err := json.Marshal(failedSoak())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, chaos.ReportJSON), js, 0o644))
	n, err := chaos.Render(dir)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, page, string(again))

	require.NoError(t, os.WriteFile(filepath.Join(dir, chaos.ReportJSON), []byte(`{"kind":"soak","jobs":"x"}`), 0o644))
	_, err = chaos.Render(dir)
	var usage *chaos.UsageError
	require.ErrorAs(t, err, &usage)
	require.Contains(t, err.Error(), chaos.ReportJSON)
}
