package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
)

// RequireJUnit parses a JUnit file back with encoding/xml and checks what
// the commonly used JUnit schema requires: <testsuites> and each
// <testsuite> carry name, tests, failures, errors, skipped and time; each
// <testcase> name, classname and time; each <failure> and <error> a
// message; and the counts agree with the cases. It returns the parsed file.
func requireJUnit(t *testing.T, b []byte) report.JUnitTestSuites {
	t.Helper()
	var ts report.JUnitTestSuites
	require.NoError(t, xml.Unmarshal(b, &ts))
	required := map[string][]string{
		"testsuites": {"name", "tests", "failures", "errors", "skipped", "time"},
		"testsuite":  {"name", "tests", "failures", "errors", "skipped", "time"},
		"testcase":   {"name", "classname", "time"},
		"failure":    {"message"},
		"error":      {"message"},
		"skipped":    {"message"},
		"property":   {"name", "value"},
	}
	allowedParent := map[string]string{
		"testsuite": "testsuites", "properties": "testsuite", "property": "properties", "testcase": "testsuite",
		"failure": "testcase", "error": "testcase", "skipped": "testcase", "system-out": "testcase",
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch el := tok.(type) {
		case xml.StartElement:
			name := el.Name.Local
			if len(stack) == 0 {
				require.Equal(t, "testsuites", name, "root element")
			} else {
				require.Equal(t, allowedParent[name], stack[len(stack)-1], "<%s> inside <%s>", name, stack[len(stack)-1])
			}
			have := map[string]bool{}
			for _, a := range el.Attr {
				have[a.Name.Local] = true
			}
			for _, a := range required[name] {
				require.True(t, have[a], "<%s> without %s", name, a)
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	tests, failures, errors, skipped := 0, 0, 0, 0
	for _, s := range ts.Suites {
		f, e, k := 0, 0, 0
		for _, c := range s.Cases {
			n := 0
			if c.Failure != nil {
				f, n = f+1, n+1
			}
			if c.Error != nil {
				e, n = e+1, n+1
			}
			if c.Skipped != nil {
				k, n = k+1, n+1
			}
			require.LessOrEqual(t, n, 1, "testcase %s has more than one outcome", c.Name)
			require.Equal(t, s.Name, c.Classname)
		}
		require.Equal(t, len(s.Cases), s.Tests, "suite %s tests", s.Name)
		require.Equal(t, f, s.Failures, "suite %s failures", s.Name)
		require.Equal(t, e, s.Errors, "suite %s errors", s.Name)
		require.Equal(t, k, s.Skipped, "suite %s skipped", s.Name)
		tests, failures, errors, skipped = tests+s.Tests, failures+f, errors+e, skipped+k
	}
	require.Equal(t, []int{tests, failures, errors, skipped}, []int{ts.Tests, ts.Failures, ts.Errors, ts.Skipped})
	return ts
}

func TestJUnit(t *testing.T) {
	failing := report.New(meta, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	failing.Provenance = report.NewProvenance(time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC), 7, "2.15.2", nil)
	inconclusive := report.New(report.Meta{Scenario: "drain-cut", Variant: "good"}, results(t, "no-loss/unknown-in-flight.jsonl", check.Params{}))
	require.Equal(t, report.Inconclusive, inconclusive.Verdict)
	broken := &report.Report{Scenario: "nats-down", Verdict: report.Inconclusive, HarnessError: `port <busy> & "taken"`}
	// A summary and a detail that XML must escape.
	failing.Checks = append(failing.Checks, report.Check{Name: "made-up", OK: ptr(false), Violations: 1,
		Summary: `a <b> & "c"` + "\x01", Offending: []check.Offense{{Task: "t<1>", Reply: "$JS.ACK.x", T: 1.5, Detail: "]]> & <"}}})

	j := report.NewJUnit("natschaos run", []report.JUnitTestSuite{
		failing.JUnitSuite("baseline", "out/baseline"), inconclusive.JUnitSuite("drain-cut", ""), broken.JUnitSuite("nats-down", ""),
	})
	path := filepath.Join(t.TempDir(), "sub", "junit.xml")
	require.NoError(t, j.Write(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("<?xml")))
	ts := requireJUnit(t, b)
	require.Len(t, ts.Suites, 3)

	base := ts.Suites[0]
	require.Equal(t, "baseline", base.Name)
	require.Equal(t, "2026-11-29T22:00:00", base.Timestamp)
	require.Equal(t, len(failing.Checks), base.Tests)
	require.Equal(t, len(failing.Failed()), base.Failures)
	require.Equal(t, len(failing.Unknown()), base.Skipped)
	require.Zero(t, base.Errors)
	byName := map[string]report.JUnitTestCase{}
	for _, c := range base.Cases {
		byName[c.Name] = c
	}
	orph := byName["orphaned"]
	require.NotNil(t, orph.Failure)
	var summary string
	for _, c := range failing.Checks {
		if c.Name == "orphaned" {
			summary = c.Summary
		}
	}
	require.Equal(t, summary, orph.Failure.Message)
	require.Contains(t, orph.Failure.Body, "task=")
	made := byName["made-up"].Failure
	require.Equal(t, `a <b> & "c"`+"\uFFFD", made.Message)
	require.Contains(t, made.Body, "task=t<1> reply=$JS.ACK.x: ]]> & <")
	for _, c := range failing.Checks {
		if c.OK == nil {
			require.NotNil(t, byName[c.Name].Skipped, c.Name)
			require.Contains(t, byName[c.Name].Skipped.Message, "could not decide")
		}
	}

	in := ts.Suites[1]
	require.Equal(t, 1, in.Errors)
	last := in.Cases[len(in.Cases)-1]
	require.Equal(t, "verdict", last.Name)
	require.Contains(t, last.Error.Message, "inconclusive: ")
	require.Contains(t, last.Error.Message, inconclusive.Why())

	br := ts.Suites[2]
	require.Equal(t, 1, br.Tests)
	require.Equal(t, 1, br.Errors)
	require.Equal(t, `inconclusive: port <busy> & "taken"`, br.Cases[0].Error.Message)
}

func TestJUnitStrict(t *testing.T) {
	m := meta
	m.Strict = true
	r := report.New(m, results(t, "no-loss/pass.jsonl", check.Params{}))
	require.NotEmpty(t, r.Unknown())
	s := r.JUnitSuite("baseline", "")
	require.Equal(t, len(r.Unknown()), s.Failures)
	require.Zero(t, s.Skipped)
}

func TestSuiteFile(t *testing.T) {
	pass := report.New(meta, results(t, "no-loss/pass.jsonl", check.Params{}))
	fail := report.New(report.Meta{Scenario: "batch", Variant: "reserve-one-by-one"}, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	broken := &report.Report{Scenario: "nats-down", Verdict: report.Inconclusive, HarnessError: "port busy"}
	f := report.NewSuiteFile([]*report.Report{pass, fail, broken}, []string{"baseline/report.json", "batch/report.json", ""})
	path := filepath.Join(t.TempDir(), "suite.json")
	require.NoError(t, f.Write(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m struct {
		Verdict   string
		Scenarios []map[string]any
	}
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "fail", m.Verdict)
	require.Len(t, m.Scenarios, 3)
	require.Equal(t, "baseline/report.json", m.Scenarios[0]["report"])
	require.Equal(t, []any{}, m.Scenarios[0]["failed"])
	require.Contains(t, m.Scenarios[1]["failed"], "orphaned")
	require.Equal(t, "inconclusive", m.Scenarios[2]["verdict"])
	require.Equal(t, "port busy", m.Scenarios[2]["why"])
	require.NotContains(t, m.Scenarios[2], "report")

	require.Equal(t, report.Inconclusive, report.SuiteVerdict([]*report.Report{pass, broken}))
	require.Equal(t, report.Pass, report.SuiteVerdict([]*report.Report{pass}))
}

func TestProvenance(t *testing.T) {
	p := report.NewProvenance(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), 42, "2.15.2", []string{"natschaos", "run"})
	require.Equal(t, "2026-01-02T02:04:05Z", p.Started)
	require.True(t, strings.HasPrefix(p.Go, "go"))
	require.NotEmpty(t, p.Natschaos)
	require.Equal(t, int64(42), p.Seed)
}

func ptr[T any](v T) *T { return &v }
