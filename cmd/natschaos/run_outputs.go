package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"

	"github.com/natschaos/natschaos/chaos/report"
)

// outputs writes what a run leaves beside its per-scenario reports:
// suite.json for several scenarios, the --junit file, and with --json the
// report(s) on stdout. dirs[i] is reports[i]'s folder under out ("" when
// the harness could not write one).
func (f runFlags) outputs(stdout io.Writer, out string, reports []*report.Report, dirs []string) error {
	if len(reports) > 1 {
		paths := make([]string, len(dirs))
		for i, d := range dirs {
			if d != "" {
				paths[i] = path.Join(filepath.ToSlash(d), "report.json")
			}
		}
		if err := report.NewSuiteFile(reports, paths).Write(filepath.Join(out, "suite.json")); err != nil {
			return err
		}
	}
	if f.junit != "" {
		suites := make([]report.JUnitTestSuite, len(reports))
		for i, r := range reports {
			dir := ""
			if dirs[i] != "" {
				dir = filepath.Join(out, dirs[i])
			}
			name := r.Scenario
			if dirs[i] != "" {
				name = dirs[i] // unique when a scenario runs twice
			}
			suites[i] = r.JUnitSuite(name, dir)
		}
		if err := report.NewJUnit("natschaos run", suites).Write(f.junit); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if f.json && len(reports) > 0 {
		return printJSON(stdout, reports)
	}
	return nil
}

// printJSON prints one report as its report.json, several as
// {"verdict": the suite's, "reports": [...]}.
func printJSON(w io.Writer, reports []*report.Report) error {
	var v any = struct {
		Verdict string           `json:"verdict"`
		Reports []*report.Report `json:"reports"`
	}{report.SuiteVerdict(reports), reports}
	if len(reports) == 1 {
		v = reports[0]
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode --json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
