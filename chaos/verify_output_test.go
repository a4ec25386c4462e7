package chaos_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
)

func cellReport(t *testing.T, variant, file string) *report.Report {
	t.Helper()
	rs, err := check.RunFile(filepath.Join("check", "testdata", file), check.Params{})
	require.NoError(t, err)
	return report.New(report.Meta{Scenario: "batch-reserve-incident", Variant: variant}, rs)
}

// TestMatrixOutputs: verify.json and the JUnit file of a matrix with a
// caught cell, a missed one, a false alarm, a passed one and a harness
// error; the JUnit file parses back and fails exactly the cells the matrix
// does not want.
func TestMatrixOutputs(t *testing.T) {
	out := t.TempDir()
	caught := cellReport(t, "reserve-one-by-one", "orphaned/fail-reserve.jsonl")
	good := cellReport(t, "good", "no-loss/pass.jsonl")
	require.Equal(t, report.Pass, good.Verdict)
	cell := func(v, s, outcome string, r *report.Report, expected, caughtBy []string) chaos.Cell {
		c := chaos.Cell{Variant: v, Scenario: s, Outcome: outcome, Report: r, Expected: expected, CaughtBy: caughtBy,
			Out: filepath.Join(out, v, s), Duration: 1500 * time.Millisecond}
		if r != nil {
			c.Failed = r.Failed()
		}
		return c
	}
	m := chaos.Matrix{Out: out, Parallel: 2, Wall: 3 * time.Second, Cells: []chaos.Cell{
		cell("reserve-one-by-one", "batch-reserve-incident", chaos.Caught, caught, []string{"orphaned", "stall"}, []string{"orphaned"}),
		cell("swallow-timeout", "nats-down", chaos.Missed, good, []string{"fast-503"}, nil),
		cell("good", "batch-reserve-incident", chaos.FalseAlarm, caught, nil, nil),
		cell("good", "nats-down", chaos.Passed, good, nil, nil),
		{Variant: "reconnect", Scenario: "nats-down-slow", Outcome: chaos.HarnessError, Err: errors.New("port busy"), Expected: []string{"liveness"}, Duration: 1500 * time.Millisecond},
	}}

	b, err := m.JUnit().Marshal()
	require.NoError(t, err)
	var ts report.JUnitTestSuites
	require.NoError(t, xml.Unmarshal(b, &ts))
	require.Len(t, ts.Suites, 5)
	failures := map[string][]string{}
	errs := map[string]int{}
	for _, s := range ts.Suites {
		for _, c := range s.Cases {
			require.Equal(t, s.Name, c.Classname)
			if c.Failure != nil {
				failures[s.Name] = append(failures[s.Name], c.Name)
			}
			if c.Error != nil {
				errs[s.Name]++
			}
		}
		require.Equal(t, len(s.Cases), s.Tests)
		require.Equal(t, "1.500", s.Time, s.Name)
	}
	require.Equal(t, map[string][]string{
		"swallow-timeout/nats-down":   {"matrix"},
		"good/batch-reserve-incident": append(caught.Failed(), "matrix"),
	}, failures, "only the cells the matrix does not want fail")
	require.Equal(t, map[string]int{"reconnect/nats-down-slow": 1}, errs)
	require.Equal(t, 2+len(caught.Failed()), ts.Failures)
	require.Equal(t, 1, ts.Errors)
	first := ts.Suites[0]
	require.Equal(t, "reserve-one-by-one/batch-reserve-incident", first.Name)
	for _, c := range first.Cases {
		if c.Name == "orphaned" {
			require.Contains(t, c.SystemOut, "caught the variant")
		}
	}

	require.NoError(t, report.WriteJSONFile(filepath.Join(out, "verify.json"), m.File()))
	raw, err := os.ReadFile(filepath.Join(out, "verify.json"))
	require.NoError(t, err)
	var f struct {
		Verdict string
		Cells   []struct {
			Variant, Scenario, Verdict, Report, Error string
			Expected                                  []string
			CaughtBy                                  []string `json:"caught_by"`
		}
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Equal(t, "fail", f.Verdict)
	require.Len(t, f.Cells, 5)
	require.Equal(t, "reserve-one-by-one/batch-reserve-incident/report.json", f.Cells[0].Report)
	require.Equal(t, []string{"orphaned"}, f.Cells[0].CaughtBy)
	require.Equal(t, "caught", f.Cells[0].Verdict)
	require.Equal(t, "port busy", f.Cells[4].Error)
	require.Empty(t, f.Cells[4].Report)
}
