package report

import (
	"encoding/json"
	"fmt"
)

// SuiteFile is suite.json: the verdict of a run of several scenarios and,
// per scenario, its verdict, the checks that failed and where its report is.
type SuiteFile struct {
	Verdict    string       `json:"verdict"`
	Scenarios  []SuiteEntry `json:"scenarios"`
	Provenance *Provenance  `json:"provenance,omitempty"`
}

// SuiteEntry is one scenario of a [SuiteFile].
type SuiteEntry struct {
	Scenario string   `json:"scenario"`
	Variant  string   `json:"variant,omitempty"`
	Seed     int64    `json:"seed"`
	Verdict  string   `json:"verdict"`
	Failed   []string `json:"failed"`
	Unknown  []string `json:"unknown,omitempty"`
	Why      string   `json:"why,omitempty"` // why an inconclusive one is
	// Report is the path of its report.json, relative to suite.json; empty
	// when the harness could not write one.
	Report string `json:"report,omitempty"`
}

// SuiteVerdict is the verdict of several reports: fail if any failed, else
// inconclusive if any was, else pass.
func SuiteVerdict(reports []*Report) string {
	v := Pass
	for _, r := range reports {
		switch r.Verdict {
		case Fail:
			return Fail
		case Inconclusive:
			v = Inconclusive
		}
	}
	return v
}

// NewSuiteFile builds suite.json; paths[i] is the path of reports[i]'s
// report.json relative to suite.json ("" when there is none).
func NewSuiteFile(reports []*Report, paths []string) *SuiteFile {
	f := &SuiteFile{Verdict: SuiteVerdict(reports), Scenarios: []SuiteEntry{}}
	for i, r := range reports {
		e := SuiteEntry{Scenario: r.Scenario, Variant: r.Variant, Seed: r.Seed, Verdict: r.Verdict,
			Failed: r.Failed(), Unknown: r.Unknown(), Why: r.Why()}
		if e.Failed == nil {
			e.Failed = []string{}
		}
		if i < len(paths) {
			e.Report = paths[i]
		}
		f.Scenarios = append(f.Scenarios, e)
	}
	return f
}

// Write writes the suite file to path as indented JSON, replacing it.
func (f *SuiteFile) Write(path string) error {
	return WriteJSONFile(path, f)
}

// WriteJSONFile writes v to path as indented JSON, replacing it.
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}
