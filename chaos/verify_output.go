package chaos

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/protocol"
)

// VerifyFile is verify.json: the matrix's verdict and its cells.
type VerifyFile struct {
	Verdict     string       `json:"verdict"` // "ok" or "fail"
	WallSeconds float64      `json:"wall_seconds"`
	Parallel    int          `json:"parallel"`
	Cells       []VerifyCell `json:"cells"`
}

// VerifyCell is one cell of verify.json.
type VerifyCell struct {
	Variant  string   `json:"variant"`
	Scenario string   `json:"scenario"`
	Verdict  string   `json:"verdict"`  // caught, MISSED, passed, FALSE ALARM or HARNESS ERROR
	Good     bool     `json:"good"`     // what the matrix wants
	Expected []string `json:"expected"` // invariants of which one must catch the variant; empty for good
	CaughtBy []string `json:"caught_by"`
	Failed   []string `json:"failed"` // every check that failed
	Error    string   `json:"error,omitempty"`
	// Report is the path of the cell's report.json relative to
	// verify.json; empty when the harness could not write one.
	Report          string  `json:"report,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// File is the matrix as verify.json.
func (m Matrix) File() VerifyFile {
	f := VerifyFile{Verdict: "fail", WallSeconds: m.Wall.Seconds(), Parallel: m.Parallel, Cells: []VerifyCell{}}
	if m.OK() {
		f.Verdict = "ok"
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	for _, c := range m.Cells {
		v := VerifyCell{Variant: c.Variant, Scenario: c.Scenario, Verdict: c.Outcome, Good: c.Good(),
			Expected: nonNil(c.Expected), CaughtBy: nonNil(c.CaughtBy), Failed: nonNil(c.Failed), DurationSeconds: c.Duration.Seconds()}
		if c.Err != nil {
			v.Error = c.Err.Error()
		}
		if c.Report != nil && c.Out != "" {
			if rel, err := filepath.Rel(m.Out, filepath.Join(c.Out, "report.json")); err == nil {
				v.Report = filepath.ToSlash(rel)
			}
		}
		f.Cells = append(f.Cells, v)
	}
	return f
}

// JUnit is the matrix as JUnit XML: a <testsuite> per cell, named
// variant/scenario, with a <testcase> per check and one "matrix" testcase
// that fails when the cell is not what the matrix wants (a bad variant
// missed, a false alarm) and errors when the harness could not run it. For
// the good variant a violated check is a <failure>, as in a run; for a bad
// variant the checks' own testcases never fail — a violation there is what
// the cell is for — and say in system-out which of them caught it.
func (m Matrix) JUnit() *report.JUnitTestSuites {
	var suites []report.JUnitTestSuite
	for _, c := range m.Cells {
		name := c.Variant + "/" + c.Scenario
		var s report.JUnitTestSuite
		if c.Report != nil {
			s = c.Report.JUnitSuite(name, c.Out)
		} else {
			s = report.JUnitTestSuite{Name: name, Properties: []report.JUnitProperty{{Name: "variant", Value: c.Variant}, {Name: "scenario", Value: c.Scenario}}}
		}
		s.Time = fmt.Sprintf("%.3f", c.Duration.Seconds())
		if c.Variant != protocol.VariantGood {
			var cases []report.JUnitTestCase
			for _, tc := range s.Cases {
				if tc.Name == "verdict" && tc.Error != nil {
					continue // the matrix testcase says it
				}
				if tc.Failure != nil {
					what := "violated, as this variant may make it"
					if slices.Contains(c.CaughtBy, tc.Name) {
						what = "violated: caught the variant"
					}
					tc.SystemOut = what + ": " + tc.Failure.Message
					tc.Failure = nil
				}
				cases = append(cases, tc)
			}
			s.Cases = cases
		}
		mc := report.JUnitTestCase{Name: "matrix", Classname: name, Time: s.Time, SystemOut: c.Text()}
		switch {
		case c.Outcome == HarnessError:
			mc.Error = &report.JUnitProblem{Message: c.Text(), Type: "harness"}
		case !c.Good():
			exp := "(pass)"
			if len(c.Expected) > 0 {
				exp = "caught by one of " + strings.Join(c.Expected, ", ")
			}
			mc.Failure = &report.JUnitProblem{Message: c.Text(), Type: strings.ToLower(c.Outcome),
				Body: fmt.Sprintf("%s on %s: %s; expected: %s\nresults: %s\n", c.Variant, c.Scenario, c.Text(), exp, c.Out)}
		}
		s.Cases = append(s.Cases, mc)
		s.Count()
		suites = append(suites, s)
	}
	j := report.NewJUnit("natschaos verify", suites)
	j.Time = fmt.Sprintf("%.3f", m.Wall.Seconds())
	return j
}
