package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/internal/slowtest"
)

// cli runs natschaos in-process with args and returns its exit code, its
// stdout and its stderr, kept apart.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(withCommandLine(t.Context(), args))
	return exitCode(err), out.String(), errOut.String()
}

// junitCounts parses a JUnit file back and checks its totals against its
// cases.
func junitCounts(t *testing.T, path string) report.JUnitTestSuites {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var ts report.JUnitTestSuites
	require.NoError(t, xml.Unmarshal(b, &ts))
	for _, attr := range []string{`tests="`, `failures="`, `errors="`, `skipped="`, `time="`} {
		require.Contains(t, string(b), "<testsuites name=")
		require.Contains(t, string(b), attr)
	}
	total := 0
	for _, s := range ts.Suites {
		require.NotEmpty(t, s.Name)
		require.NotEmpty(t, s.Time)
		require.Equal(t, len(s.Cases), s.Tests)
		f := 0
		for _, c := range s.Cases {
			require.Equal(t, s.Name, c.Classname)
			if c.Failure != nil {
				f++
			}
		}
		require.Equal(t, f, s.Failures)
		total += s.Tests
	}
	require.Equal(t, total, ts.Tests)
	return ts
}

// TestRunOutputs: a run of two scenarios with --json and --junit prints
// only JSON on stdout, writes suite.json beside the reports, a JUnit file
// that parses back, and report.json files with their provenance.
func TestRunOutputs(t *testing.T) {
	out := t.TempDir()
	junit := filepath.Join(t.TempDir(), "ci", "junit.xml")
	args := []string{"run", "-s", "testdata/tiny.yaml", "-s", "testdata/tiny.yaml", "--seed", "11", "--out", out, "--junit", junit, "--json"}
	start := time.Now().UTC().Truncate(time.Second)
	code, stdout, stderr := cli(t, args...)
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	require.Contains(t, stderr, "suite: PASS", "the tables go to stderr with --json")
	require.Contains(t, stderr, "natschaos: scenario 1 of 2 (0 checks failed so far): tiny", "the progress lines go to stderr")
	require.Regexp(t, `natschaos: scenario 2 of 2 \(0 checks failed so far\): tiny 0s  starting  fault: none  tasks 0 stored / 0 published\n`, stderr, "a line at each start")
	require.Regexp(t, `scenario 2 of 2 .*: tiny \d+s  end  fault: none  tasks 50 stored / 50 published`, stderr, "the last state of each run")

	var got struct {
		Verdict string
		Reports []report.Report
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout is one JSON document:\n%s", stdout)
	require.Equal(t, report.Pass, got.Verdict)
	require.Len(t, got.Reports, 2)

	var suite report.SuiteFile
	b, err := os.ReadFile(filepath.Join(out, "suite.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &suite))
	require.Equal(t, report.Pass, suite.Verdict)
	require.Equal(t, []string{"tiny/report.json", "tiny-2/report.json"}, []string{suite.Scenarios[0].Report, suite.Scenarios[1].Report})

	ts := junitCounts(t, junit)
	require.Len(t, ts.Suites, 2)
	require.Equal(t, []string{"tiny", "tiny-2"}, []string{ts.Suites[0].Name, ts.Suites[1].Name})
	require.Zero(t, ts.Failures+ts.Errors)
	require.Equal(t, len(got.Reports[0].Checks), ts.Suites[0].Tests)

	rep, err := report.Read(filepath.Join(out, suite.Scenarios[1].Report))
	require.NoError(t, err)
	p := rep.Provenance
	require.NotNil(t, p)
	require.Equal(t, server.VERSION, p.NATSServer, "from the sampler's /varz")
	require.Equal(t, runtime.Version(), p.Go)
	require.NotEmpty(t, p.Natschaos)
	require.EqualValues(t, 11, p.Seed)
	started, err := time.Parse(time.RFC3339, p.Started)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(p.Started, "Z"), "UTC: %s", p.Started)
	require.False(t, started.Before(start), "started %s, test began %s", started, start)
	require.Equal(t, append([]string{"natschaos"}, args...), p.CommandLine)
}

// TestCheckJSON: check --json prints the report as JSON and nothing else on
// stdout; the exit code is unchanged.
func TestCheckJSON(t *testing.T) {
	hist := filepath.Join("..", "..", "chaos", "check", "testdata", "orphaned", "fail-reserve.jsonl")
	code, stdout, stderr := cli(t, "check", hist, "--json")
	require.Equal(t, 1, code)
	var r report.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), "stdout:\n%s", stdout)
	require.Equal(t, report.Fail, r.Verdict)
	require.Contains(t, r.Failed(), "orphaned")
	require.Contains(t, stderr, "CHECK")
	_, plain, _ := cli(t, "check", hist)
	require.Contains(t, plain, "CHECK", "without --json the table is on stdout")
}

// TestVerifyJUnit: verify --junit writes a JUnit file with a testsuite per
// cell (variant/scenario) that parses back; the matrix that holds fails
// nothing; verify.json lies beside the cells.
func TestVerifyJUnit(t *testing.T) {
	slowtest.Skip(t, "runs two cells of the matrix")
	out := t.TempDir()
	junit := filepath.Join(out, "verify.xml")
	code, stdout, stderr := cli(t, "verify", "--short", "--variant", "reserve-one-by-one", "--parallel", "1", "--out", out, "--junit", junit)
	if code != 0 {
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "VARIANT")
	require.NotContains(t, stdout, "natschaos verify:", "progress goes to stderr")
	ts := junitCounts(t, junit)
	var names []string
	for _, s := range ts.Suites {
		names = append(names, s.Name)
	}
	// The bad variant's cell, and every good variant's (good, pooled) on its scenario.
	require.ElementsMatch(t, []string{"reserve-one-by-one/batch-reserve-incident", "good/batch-reserve-incident", "pooled/batch-reserve-incident"}, names)
	require.Zero(t, ts.Failures+ts.Errors)
	var f chaos.VerifyFile
	b, err := os.ReadFile(filepath.Join(out, "verify.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &f))
	require.Equal(t, "ok", f.Verdict)
	require.Len(t, f.Cells, 3)
}

func TestValidate(t *testing.T) {
	code, stdout, _ := cli(t, "validate", "batch-reserve-incident", "--seed", "3", "--variant", "reserve-one-by-one", "--time-scale", "2")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "seed: 3")
	require.Contains(t, stdout, "variant: reserve-one-by-one")
	require.Contains(t, stdout, "ack_wait: 2s", "scaled from 1s")
	require.Regexp(t, `f1\s+0s\s+4s\s+api-nats\s+latency\s+direction=both latency=40ms`, stdout)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: bad\nchaos: 2s\nfaults:\n  - at: 0s\n    link: api-nats\n    latency: {latency: 20ms, jiter: 1ms}\n"), 0o644))
	code, stdout, _ = cli(t, "validate", bad)
	require.Equal(t, 2, code)
	require.Empty(t, stdout)
	root := newRoot()
	root.SetArgs([]string{"validate", bad})
	root.SetOut(new(bytes.Buffer))
	err := root.Execute()
	require.ErrorContains(t, err, bad+":6: faults[0].latency.jiter")

	nem := filepath.Join(dir, "nem.yaml")
	require.NoError(t, os.WriteFile(nem, []byte("name: nem\nchaos: 10s\nnemesis:\n  faults:\n    - link: results-nats\n      down: {}\n  interval: [1s, 2s]\n  duration: [500ms, 1s]\n"), 0o644))
	_, a, _ := cli(t, "validate", nem, "--seed", "5")
	_, b, _ := cli(t, "validate", nem, "--seed", "5")
	require.Equal(t, a, b, "the same seed draws the same nemesis")
	require.Regexp(t, `f1\s+\S+\s+\S+\s+results-nats\s+down`, a)
	require.Equal(t, 2, first(cli(t, "validate", "no-such-scenario")))
}

func first(code int, _, _ string) int { return code }

func TestFaultsAndVersion(t *testing.T) {
	code, stdout, _ := cli(t, "faults")
	require.Equal(t, 0, code)
	for _, d := range faults.All() {
		require.NotEmpty(t, d.Doc, d.Name)
		require.Contains(t, stdout, d.Name)
		require.Contains(t, stdout, d.Doc)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, stdout, _ := cli(t, args...)
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "natschaos ")
		require.Contains(t, stdout, "go "+runtime.Version())
		require.Contains(t, stdout, "nats-server "+server.VERSION)
	}
}

func TestCompletion(t *testing.T) {
	_, stdout, _ := cli(t, "__complete", "run", "--scenario", "batch-res")
	require.Contains(t, stdout, "batch-reserve-incident\t")
	_, stdout, _ = cli(t, "__complete", "run", "-s", "nats-d")
	require.Contains(t, stdout, "nats-down\t")
	require.NotContains(t, stdout, "baseline")
	_, stdout, _ = cli(t, "__complete", "run", "--variant", "reserve")
	require.Contains(t, stdout, "reserve-one-by-one")
	_, stdout, _ = cli(t, "__complete", "verify", "--variant", "")
	require.Contains(t, stdout, "swallow-timeout")
	require.NotContains(t, stdout, "good", "verify takes only the known-bad variants")
	_, stdout, _ = cli(t, "__complete", "sut", "--variant", "")
	require.Contains(t, stdout, "good")
	_, stdout, _ = cli(t, "__complete", "validate", "zombie")
	require.Contains(t, stdout, "zombie-stream")
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, stdout, _ := cli(t, "completion", sh)
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "natschaos", sh)
	}
}
