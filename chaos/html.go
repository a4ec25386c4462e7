package chaos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
)

// Files of a scenario's results directory.
const (
	ReportJSON  = "report.json"
	ReportHTML  = "report.html"
	HistoryFile = "history.jsonl"
	IndexHTML   = "index.html"
)

// WriteIndex writes DIR/index.html for a results directory: a suite's (one
// folder per scenario, DIR/<scenario>/report.json) links each scenario's
// report with its verdict; a verification matrix's (DIR/<variant>/<scenario>/
// report.json) shows variant × scenario, each cell judged again from its
// report.json and linking its report. It returns how many reports the index
// links; with none, it writes nothing.
func WriteIndex(dir string) (int, error) {
	reps, err := findReports(dir)
	if err != nil {
		return 0, err
	}
	if len(reps) == 0 {
		return 0, nil
	}
	matrix := false
	for _, r := range reps {
		if len(r.parts) == 2 {
			matrix = true
		}
	}
	path := filepath.Join(dir, IndexHTML)
	if !matrix {
		var entries []report.IndexEntry
		for _, r := range reps {
			entries = append(entries, report.IndexEntry{Link: filepath.ToSlash(filepath.Join(r.rel, ReportHTML)), Report: r.rep})
		}
		return len(entries), report.WriteSuiteIndex(path, "natschaos results "+filepath.Base(dir), entries)
	}
	var cells []Cell
	for _, r := range reps {
		if len(r.parts) != 2 {
			continue
		}
		c := Cell{Variant: r.parts[0], Scenario: r.parts[1], Out: filepath.Join(dir, r.rel)}
		for _, e := range VerificationMatrix {
			if e.Variant == c.Variant {
				c.Expected = e.Invariants
			}
		}
		if r.rep.HarnessError != "" {
			c.Outcome, c.Err = HarnessError, errors.New(r.rep.HarnessError)
		} else {
			c = judge(c, r.rep)
		}
		cells = append(cells, c)
	}
	sort.SliceStable(cells, func(a, b int) bool { return rowOrder(cells[a].Variant) < rowOrder(cells[b].Variant) })
	return len(cells), writeMatrixIndex(dir, cells)
}

// rowOrder puts the matrix's rows in VerificationMatrix order, good last.
func rowOrder(variant string) int {
	for i, e := range VerificationMatrix {
		if e.Variant == variant {
			return i
		}
	}
	return len(VerificationMatrix)
}

// writeMatrixIndex writes dir/index.html for the cells of a verification
// matrix run into dir.
func writeMatrixIndex(dir string, cells []Cell) error {
	var mc []report.MatrixCell
	for _, c := range cells {
		x := report.MatrixCell{Variant: c.Variant, Scenario: c.Scenario, Text: c.Text(), Good: c.Good()}
		if c.Out != "" && fileExists(filepath.Join(c.Out, ReportHTML)) {
			if rel, err := filepath.Rel(dir, filepath.Join(c.Out, ReportHTML)); err == nil {
				x.Link = filepath.ToSlash(rel)
			}
		}
		mc = append(mc, x)
	}
	return report.WriteMatrixIndex(filepath.Join(dir, IndexHTML), "natschaos verify "+filepath.Base(dir), mc)
}

// Render writes report.html again for every report.json under dir (one or
// two levels down, as run and verify write them, or dir itself), from the
// report and the history beside it, then dir's index.html when dir holds
// more than its own report; a soak's results directory gets its
// index.html again from its report.json. It returns how many reports it
// rendered.
func Render(dir string) (int, error) {
	if fileExists(filepath.Join(dir, ReportJSON)) {
		if soak, ok, err := ReadSoakReport(filepath.Join(dir, ReportJSON)); err != nil || ok {
			if err != nil {
				return 0, err
			}
			return 1, soak.WriteIndex(filepath.Join(dir, IndexHTML))
		}
		rep, err := report.Read(filepath.Join(dir, ReportJSON))
		if err != nil {
			return 0, err
		}
		return 1, renderOne(dir, rep)
	}
	reps, err := findReports(dir)
	if err != nil {
		return 0, err
	}
	if len(reps) == 0 {
		return 0, &UsageError{fmt.Errorf("%s: no %s in it or in its folders: not a results directory", dir, ReportJSON)}
	}
	for _, r := range reps {
		d := filepath.Join(dir, r.rel)
		if err := renderOne(d, r.rep); err != nil {
			return 0, err
		}
	}
	_, err = WriteIndex(dir)
	return len(reps), err
}

// renderOne writes dir/report.html from rep and dir/history.jsonl; a
// malformed history line is a *UsageError naming it.
func renderOne(dir string, rep *report.Report) error {
	err := report.WriteHTML(filepath.Join(dir, ReportHTML), rep, filepath.Join(dir, HistoryFile))
	var lineErr *history.LineError
	if errors.As(err, &lineErr) {
		return &UsageError{err}
	}
	return err
}

type foundReport struct {
	rel   string   // directory relative to the results directory
	parts []string // its path elements: [scenario] or [variant, scenario]
	rep   *report.Report
}

// findReports reads the report.json files one and two levels below dir,
// in lexical order.
func findReports(dir string) ([]foundReport, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("results directory: %w", err)}
	}
	if !st.IsDir() {
		return nil, &UsageError{fmt.Errorf("%s: not a directory", dir)}
	}
	var out []foundReport
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		parts := relParts(rel)
		depth := len(parts)
		if d.IsDir() {
			if depth > 2 {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != ReportJSON || depth < 2 {
			return nil
		}
		rep, err := report.Read(path)
		if err != nil {
			return err
		}
		out = append(out, foundReport{rel: filepath.Dir(rel), parts: parts[:depth-1], rep: rep})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results directory %s: %w", dir, err)
	}
	return out, nil
}

func relParts(rel string) []string {
	if rel == "." || rel == "" {
		return nil
	}
	var parts []string
	for rel != "." && rel != "" && rel != string(filepath.Separator) {
		parts = append([]string{filepath.Base(rel)}, parts...)
		rel = filepath.Dir(rel)
	}
	return parts
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
