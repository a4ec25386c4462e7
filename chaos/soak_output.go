package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/natschaos/natschaos/chaos/report"
)

// ReadSoakReport reads a soak's report.json; ok is false (and the error
// nil) when path holds a report that is not a soak's.
func ReadSoakReport(path string) (r *SoakReport, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("read report: %w", err)
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &kind); err != nil {
		return nil, false, &UsageError{fmt.Errorf("read report %s: %w", path, err)}
	}
	if kind.Kind != "soak" {
		return nil, false, nil
	}
	r = &SoakReport{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, false, &UsageError{fmt.Errorf("read soak report %s: %w", path, err)}
	}
	return r, true, nil
}

// WriteIndex writes the soak's index.html at path: its verdict, settings,
// figures, resource growth, intervals and failing jobs, from the report
// alone.
func (r *SoakReport) WriteIndex(path string) error {
	return report.WriteSoakPage(path, r.page())
}

func (r *SoakReport) page() report.SoakPage {
	p := report.SoakPage{Title: r.Scenario, Verdict: strings.ToUpper(r.Verdict), VerdictClass: r.Verdict, Why: r.Why, Running: !r.Final}
	st := r.Settings
	ran := fmt.Sprintf("%.0f s of %.0f s", r.Elapsed, r.Duration)
	if r.Interrupted {
		ran += " (interrupted)"
	}
	size := fmt.Sprint(st.JobSizeMin)
	if st.JobSizeMax != st.JobSizeMin {
		size += "–" + fmt.Sprint(st.JobSizeMax)
	}
	rate := "unpaced"
	if st.TaskRate > 0 {
		rate = fmt.Sprintf("%g tasks/s", st.TaskRate)
	}
	cycle := "no faults"
	if st.Cycle > 0 {
		cycle = fmt.Sprintf("repeats every %.0f s", st.Cycle)
	}
	p.Meta = []report.SoakPair{
		{Label: "variant", Value: orDash(r.Variant)}, {Label: "seed", Value: fmt.Sprint(r.Seed)}, {Label: "ran", Value: ran},
		{Label: "jobs in flight", Value: fmt.Sprint(st.JobsInFlight)}, {Label: "job size", Value: size + " tasks"},
		{Label: "task rate", Value: rate}, {Label: "workers", Value: fmt.Sprint(st.Workers)},
		{Label: "report every", Value: fmt.Sprintf("%g s", st.ReportEvery)}, {Label: "job timeout", Value: fmt.Sprintf("%g s", st.JobTimeout)},
		{Label: "fault schedule", Value: cycle},
	}
	if pv := r.Provenance; pv != nil {
		p.Meta = append(p.Meta, report.SoakPair{Label: "started", Value: pv.Started})
	}
	lost := r.ViolationsByCheck["no-loss"]
	p.Figures = []report.SoakFigure{
		{Label: "jobs judged", Value: fmt.Sprint(r.Jobs.Judged)},
		{Label: "jobs passed", Value: fmt.Sprint(r.Jobs.Passed)},
		{Label: "jobs failed", Value: fmt.Sprint(r.Jobs.Failed), Bad: r.Jobs.Failed > 0},
		{Label: "jobs inconclusive", Value: fmt.Sprint(r.Jobs.Inconclusive), Bad: r.Jobs.Inconclusive > 0},
		{Label: "jobs in flight", Value: fmt.Sprint(r.JobsInFlight)},
		{Label: "intervals judged", Value: fmt.Sprint(r.Intervals.Judged)},
		{Label: "intervals failed", Value: fmt.Sprint(r.Intervals.Failed), Bad: r.Intervals.Failed > 0},
		{Label: "tasks published", Value: fmt.Sprint(r.TasksPublished)},
		{Label: "tasks stored", Value: fmt.Sprint(r.TasksStored)},
		{Label: "tasks lost (no-loss)", Value: fmt.Sprint(lost), Bad: lost > 0},
		{Label: "/tasks calls", Value: fmt.Sprint(r.TasksCalls)},
		{Label: "CPU s per 1,000 /tasks", Value: fmt.Sprintf("%.3f", r.CPUPer1000TasksCalls)},
		{Label: "RSS", Value: fmt.Sprintf("%.1f MB", float64(r.RSSBytes)/(1<<20))},
		{Label: "history", Value: fmt.Sprintf("%.1f MB", float64(r.HistoryBytes)/(1<<20))},
	}
	if g := r.ResourceGrowth; g != nil {
		sg := &report.SoakGrowth{Verdict: strings.ToUpper(g.Verdict), Class: g.Verdict, Summary: g.Summary}
		for _, key := range growthSeries(g.Figures) {
			f := g.Figures
			sg.Series = append(sg.Series, report.GrowthSeries{Name: strings.ReplaceAll(key, "_", " "),
				First: fmt.Sprintf("%.1f", f[key+"_first"]), Last: fmt.Sprintf("%.1f", f[key+"_last"]),
				Slope: fmt.Sprintf("%.3f", f[key+"_per_min"]), Bound: fmt.Sprintf("%.3f", f[key+"_bound_per_min"]),
				Over: f[key+"_per_min"] > f[key+"_bound_per_min"]})
		}
		for _, o := range g.Offending {
			sg.Offending = append(sg.Offending, o.Detail)
		}
		p.Growth = sg
	}
	for _, iv := range r.intervals() {
		p.Intervals = append(p.Intervals, report.SoakRow{Name: fmt.Sprint(iv.Index), Span: fmt.Sprintf("%.0f–%.0f s", iv.From, iv.To),
			Verdict: strings.ToUpper(iv.Verdict), Class: iv.Verdict, Checks: notPassed(iv.Checks)})
	}
	for _, j := range r.FailedJobs {
		p.Jobs = append(p.Jobs, report.SoakRow{Name: fmt.Sprint(j.Job), Span: fmt.Sprintf("%.0f–%.0f s, %d tasks", j.From, j.To, j.Published),
			Verdict: strings.ToUpper(j.Verdict), Class: j.Verdict, Why: j.Why, Checks: notPassed(j.Checks)})
	}
	p.JobsMore = max(0, r.Jobs.Failed+r.Jobs.Inconclusive-len(r.FailedJobs))
	return p
}

// growthSeries are the series resource-growth judged, by the keys of its
// figures (<series>_per_min, _bound_per_min, _first, _last), sorted.
func growthSeries(figs map[string]float64) []string {
	var keys []string
	for k := range figs {
		if s, ok := strings.CutSuffix(k, "_bound_per_min"); ok {
			keys = append(keys, s)
		}
	}
	sort.Strings(keys)
	return keys
}

// notPassed lists the checks that did not pass, with their summaries.
func notPassed(cs []SoakCheck) []report.SoakPair {
	var out []report.SoakPair
	for _, c := range cs {
		if c.Verdict != report.Pass {
			out = append(out, report.SoakPair{Label: c.Name, Value: c.Summary})
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// JUnit is the soak as JUnit XML: a <testsuite> per failing job the report
// lists (job-<id>) and per interval it holds (interval-<n>: the failed
// ones and the last), a <testcase> per check with a <failure> for a
// violated one (its summary as message, its first offending events as
// body); a suite "soak" holds resource-growth, a case counting the jobs
// that passed (a soak keeps no verdict of a passed job) and, when the soak
// is inconclusive, an <error> case saying why. dir, when not empty, is the
// results directory named in the soak suite's properties.
func (r *SoakReport) JUnit(dir string) *report.JUnitTestSuites {
	var suites []report.JUnitTestSuite
	part := func(name, verdict, why string, secs float64, cs []SoakCheck) report.JUnitTestSuite {
		rep := &report.Report{Scenario: r.Scenario, Variant: r.Variant, Seed: r.Seed, Verdict: verdict, DurationSeconds: secs}
		for _, c := range cs {
			rep.Checks = append(rep.Checks, c.reportCheck())
		}
		if verdict == report.Inconclusive && why != "" {
			rep.Inconclusive = []string{why}
		}
		return rep.JUnitSuite(name, "")
	}
	for _, j := range r.FailedJobs {
		suites = append(suites, part(fmt.Sprintf("job-%d", j.Job), j.Verdict, j.Why, j.To-j.From, j.Checks))
	}
	for _, iv := range r.intervals() {
		suites = append(suites, part(fmt.Sprintf("interval-%d", iv.Index), iv.Verdict, "", iv.To-iv.From, iv.Checks))
	}
	rep := &report.Report{Scenario: r.Scenario, Variant: r.Variant, Seed: r.Seed, Verdict: r.Verdict,
		DurationSeconds: r.Elapsed, Provenance: r.Provenance}
	if g := r.ResourceGrowth; g != nil {
		rep.Checks = append(rep.Checks, g.reportCheck())
	}
	if r.Verdict == report.Inconclusive {
		rep.Inconclusive = []string{r.Why}
	}
	s := rep.JUnitSuite("soak", dir)
	s.Cases = append(s.Cases, report.JUnitTestCase{Name: "jobs-passed", Classname: "soak", Time: "0.000",
		SystemOut: fmt.Sprintf("%d of %d jobs judged passed every check; %d not judged (in flight)", r.Jobs.Passed, r.Jobs.Judged, r.JobsInFlight)})
	s.Count()
	return report.NewJUnit("natschaos soak "+r.Scenario, append(suites, s))
}

// reportCheck is c as a run report's check (an inconclusive one: OK nil,
// its summary as why).
func (c SoakCheck) reportCheck() report.Check {
	rc := report.Check{Name: c.Name, Violations: c.Violations, Summary: c.Summary, Offending: c.Offending, Figures: c.Figures}
	switch c.Verdict {
	case report.Pass:
		ok := true
		rc.OK = &ok
	case report.Fail:
		ok := false
		rc.OK = &ok
	default:
		rc.Why = c.Summary
	}
	return rc
}

// intervals are the intervals the report holds: the failed ones, then the
// last one when it did not fail.
func (r *SoakReport) intervals() []IntervalVerdict {
	ivs := append([]IntervalVerdict(nil), r.FailedIntervals...)
	if l := r.LastInterval; l != nil && (len(ivs) == 0 || ivs[len(ivs)-1].Index != l.Index) {
		ivs = append(ivs, *l)
	}
	return ivs
}
