package report

import (
	"bytes"
	"fmt"
)

// SoakPage is what a soak's index.html shows, built from the soak's
// report.json by the chaos package (which owns the soak report's type).
type SoakPage struct {
	Title        string // the scenario
	Verdict      string // PASS, FAIL, INCONCLUSIVE
	VerdictClass string // pass, fail, inconclusive
	Why          string
	Running      bool         // the soak had not ended when the page was written
	Meta         []SoakPair   // variant, seed, duration, settings
	Figures      []SoakFigure // jobs, intervals, tasks, cost
	Growth       *SoakGrowth
	Intervals    []SoakRow // the failed intervals, then the last one
	Jobs         []SoakRow // the failing jobs the report lists
	JobsMore     int       // failing jobs past the listed ones
}

// SoakPair is one line of the page's settings.
type SoakPair struct{ Label, Value string }

// SoakFigure is one figure of the page's header; Bad draws it red.
type SoakFigure struct {
	Label, Value string
	Bad          bool
}

// SoakGrowth is the resource-growth check: each series judged, with its
// fitted slope against its bound.
type SoakGrowth struct {
	Verdict, Class, Summary string
	Series                  []GrowthSeries
	Offending               []string
}

// GrowthSeries is one resource series of resource-growth.
type GrowthSeries struct {
	Name, First, Last, Slope, Bound string
	Over                            bool // the slope is past its bound
}

// SoakRow is one interval or job: its verdict and the checks that did not
// pass, each with its summary.
type SoakRow struct {
	Name, Span, Verdict, Class, Why string
	Checks                          []SoakPair // check name, summary
}

// WriteSoakPage writes a soak's index.html at path (atomically: a
// temporary file renamed over it), with the other pages' style.
func WriteSoakPage(path string, p SoakPage) error {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "soak", p); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return writeFile(path, b.Bytes())
}
