package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
)

func results(t testing.TB, file string, p check.Params) check.Results {
	t.Helper()
	rs, err := check.RunFile(filepath.Join("..", "check", "testdata", file), p)
	require.NoError(t, err)
	return rs
}

var meta = report.Meta{Scenario: "baseline", Description: "no faults", Proves: "the checkers find nothing on a healthy run", Seed: 7, Variant: "good"}

func TestJSONShape(t *testing.T) {
	r := report.New(meta, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, r.WriteJSON(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)

	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"scenario", "seed", "variant", "verdict", "checks", "tasks", "redeliveries", "orphaned",
		"stall_seconds", "max_stall_seconds", "duration_seconds", "faults", "tolerances"} {
		require.Contains(t, m, k)
	}
	require.Equal(t, "baseline", m["scenario"])
	require.Equal(t, 7.0, m["seed"])
	require.Equal(t, "fail", m["verdict"])
	require.NotContains(t, m, "harness_error")

	tasks := m["tasks"].(map[string]any)
	for _, k := range []string{"published", "stored", "lost", "dead_lettered", "in_flight", "duplicates"} {
		require.Contains(t, tasks, k)
	}
	require.Equal(t, 2.0, tasks["published"])
	require.Equal(t, 1.0, m["orphaned"])
	require.Equal(t, 1.0, m["redeliveries"])
	require.InDelta(t, 2.31, m["max_stall_seconds"], 1e-9)

	checks := m["checks"].([]any)
	require.Len(t, checks, len(check.All(check.Params{})))
	byName := map[string]map[string]any{}
	for _, c := range checks {
		c := c.(map[string]any)
		for _, k := range []string{"name", "ok", "violations", "summary"} {
			require.Contains(t, c, k, "check %v", c["name"])
		}
		byName[c["name"].(string)] = c
	}
	require.Equal(t, false, byName["orphaned"]["ok"])
	require.Equal(t, true, byName["no-loss"]["ok"])
	require.Nil(t, byName["liveness"]["ok"], "unknown is null")
	require.NotEmpty(t, byName["liveness"]["why"])
	off := byName["orphaned"]["offending"].([]any)[0].(map[string]any)
	require.Equal(t, "img-2", off["task"])
	require.Contains(t, off["reply"], "$JS.ACK.")

	faults := m["faults"].([]any)
	require.Len(t, faults, 1)
	f := faults[0].(map[string]any)
	require.Equal(t, "latency", f["name"])
	require.Equal(t, "api-nats", f["link"])
	require.Equal(t, 0.05, f["start"])
	require.Equal(t, 1.1, f["end"])

	tol := m["tolerances"].(map[string]any)
	require.Equal(t, 0.1, tol["epsilon_seconds"])
	require.Equal(t, 1.0, tol["max_stall_seconds"])

	back, err := report.Read(path)
	require.NoError(t, err)
	require.Equal(t, r.Verdict, back.Verdict)
	require.Equal(t, r.Tasks, back.Tasks)
}

func TestVerdict(t *testing.T) {
	pass := results(t, "no-loss/pass.jsonl", check.Params{})
	r := report.New(meta, pass)
	require.Equal(t, report.Pass, r.Verdict, "unknown checks do not fail by default")
	require.NotEmpty(t, r.Unknown())
	require.Equal(t, report.ExitPass, r.ExitCode())

	strict := meta
	strict.Strict = true
	r = report.New(strict, pass)
	require.Equal(t, report.Fail, r.Verdict, "strict: unknown fails")
	require.Equal(t, r.Unknown(), r.Failed())
	require.Equal(t, report.ExitFail, r.ExitCode())

	r = report.New(meta, results(t, "no-loss/fail-lost.jsonl", check.Params{}))
	require.Equal(t, report.Fail, r.Verdict)
	require.Equal(t, []string{"no-loss"}, r.Failed())
	require.Equal(t, 1, r.Tasks.Lost)

	// A run the harness cannot judge is never a pass.
	r = report.New(meta, results(t, "run/no-calls.jsonl", check.Params{}))
	require.Equal(t, report.Inconclusive, r.Verdict)
	require.Contains(t, r.HarnessError, "never asked for tasks")
	require.Equal(t, report.ExitInconclusive, r.ExitCode())
	require.Equal(t, r.HarnessError, r.Why())
	r = report.New(meta, results(t, "run/empty.jsonl", check.Params{}))
	require.Equal(t, report.ExitInconclusive, r.ExitCode())

	crashed := meta
	crashed.HarnessError = "start nats: address in use"
	r = report.New(crashed, pass)
	require.Equal(t, report.ExitInconclusive, r.ExitCode())
	require.True(t, strings.HasPrefix(r.HarnessError, "start nats"))

	// A killed run (no end phase), or one whose no-loss cannot decide, is
	// inconclusive, strict or not; a violation seen before the kill fails.
	for _, file := range []string{"no-loss/unknown-no-drain.jsonl", "no-loss/unknown-in-flight.jsonl"} {
		for _, m := range []report.Meta{meta, strict} {
			r = report.New(m, results(t, file, check.Params{}))
			require.Equal(t, report.Inconclusive, r.Verdict, file)
			require.Equal(t, report.ExitInconclusive, r.ExitCode(), file)
			require.Contains(t, r.Why(), "no end phase", file)
			require.Empty(t, r.HarnessError)
		}
	}
	r = report.New(meta, results(t, "no-loss/unknown-in-flight.jsonl", check.Params{}))
	require.Contains(t, r.Why(), "1 tasks still in flight")
	require.Equal(t, 1, r.Tasks.InFlight)
	r = report.New(meta, results(t, "connection-leak/unknown-no-end.jsonl", check.Params{}))
	require.Contains(t, r.Inconclusive, "the history has no end phase: the run was cut short")

	// A system that answered errors from the start is judged, and fails.
	r = report.New(meta, results(t, "run/errors-5xx-from-start.jsonl", check.Params{}))
	require.Equal(t, report.Fail, r.Verdict)
	require.Empty(t, r.HarnessError)
	require.Equal(t, []string{"no-loss"}, r.Failed())
}

func TestVerdictLine(t *testing.T) {
	r := report.New(meta, results(t, "no-loss/pass.jsonl", check.Params{}))
	require.Regexp(t, `^PASS \(\d+ unknown\)$`, r.VerdictLine())
	var b bytes.Buffer
	require.NoError(t, r.Summary(&b))
	require.Contains(t, b.String(), ": "+r.VerdictLine()+"\n")
	r = report.New(meta, results(t, "no-loss/unknown-in-flight.jsonl", check.Params{}))
	require.Equal(t, "INCONCLUSIVE", r.VerdictLine())
	b.Reset()
	require.NoError(t, r.Summary(&b))
	require.Contains(t, b.String(), "cannot pass: no-loss could not decide: 1 tasks still in flight")
}

func TestSummary(t *testing.T) {
	r := report.New(meta, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	var b bytes.Buffer
	require.NoError(t, r.Summary(&b))
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(out, "\n")
	require.Contains(t, lines[0], "scenario baseline (variant good, seed 7): FAIL")
	require.Contains(t, out, "fault latency on api-nats: 0.05s – 1.10s")

	// One row per check, in order, with its mark and violations.
	row := func(name string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 3 && f[0] == name {
				return f
			}
		}
		t.Fatalf("no row for %s in\n%s", name, out)
		return nil
	}
	require.Equal(t, []string{"orphaned", "FAIL", "1"}, row("orphaned")[:3])
	require.Equal(t, []string{"stall", "FAIL", "1"}, row("stall")[:3])
	require.Equal(t, []string{"no-loss", "ok", "0"}, row("no-loss")[:3])
	require.Equal(t, []string{"liveness", "unknown", "0"}, row("liveness")[:3])
	require.Less(t, strings.Index(out, "\nno-loss "), strings.Index(out, "\nack-pending-bound "))

	// Each failure lists its first offending events: time, task, reply.
	require.Contains(t, out, "orphaned: 1 violations; first offending:")
	require.Contains(t, out, "t=0.900s task=img-2 reply=$JS.ACK.job_1.job-1-consumer.1.2.2.1700000000000000000.0")
	require.Contains(t, out, "tasks-latency: 1 violations; first offending:")
}

func TestSummaryHarnessProblem(t *testing.T) {
	r := report.New(meta, results(t, "run/no-config.jsonl", check.Params{}))
	var b bytes.Buffer
	require.NoError(t, r.Summary(&b))
	require.Contains(t, b.String(), "HARNESS PROBLEM, the run was not judged: no config event")
}

func TestSuite(t *testing.T) {
	ok := report.New(meta, results(t, "no-loss/pass.jsonl", check.Params{}))
	bad := meta
	bad.Scenario, bad.Variant = "http-timeout-batch", "reserve-one-by-one"
	failed := report.New(bad, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	broken := meta
	broken.Scenario = "nats-down"
	harness := report.New(broken, results(t, "run/no-publish.jsonl", check.Params{}))

	var b bytes.Buffer
	v, err := report.Suite(&b, []*report.Report{ok, failed, harness})
	require.NoError(t, err)
	require.Equal(t, report.Fail, v)
	out := b.String()
	t.Log("\n" + out)
	require.Regexp(t, `(?m)^baseline\s+good\s+7\s+PASS\s+-\s+\S+`, out)
	require.Regexp(t, `(?m)^http-timeout-batch\s+reserve-one-by-one\s+7\s+FAIL\s+orphaned,stall,tasks-latency\s`, out)
	require.Regexp(t, `(?m)^nats-down\s+good\s+7\s+INCONCLUSIVE\s+harness: no publish event`, out)
	require.Contains(t, out, "suite: FAIL (1 of 3 scenarios failed, 1 inconclusive)")

	b.Reset()
	v, err = report.Suite(&b, []*report.Report{ok, harness})
	require.NoError(t, err)
	require.Equal(t, report.Inconclusive, v)

	b.Reset()
	v, err = report.Suite(&b, []*report.Report{ok})
	require.NoError(t, err)
	require.Equal(t, report.Pass, v)
	require.Contains(t, b.String(), "suite: PASS (0 of 1 scenarios failed, 0 inconclusive)")
}

// TestForeign: report.json's foreign is the sum of the foreign events (one
// per observer) and of the foreign count of conn close events; the
// summary says it when not zero.
func TestForeign(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "check", "testdata", "orphaned", "fail-reserve.jsonl"))
	require.NoError(t, err)
	extra := `{"t":3.0,"kind":"conn","link":"api-nats","conn":1,"phase":"close","foreign":4}
{"t":3.1,"kind":"foreign","name":"nats-observer","n":20}
{"t":3.2,"kind":"foreign","name":"http-proxy","n":3}
`
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, os.WriteFile(path, append(src, extra...), 0o644))
	rs, err := check.RunFile(path, check.Params{})
	require.NoError(t, err)
	r := report.New(meta, rs)
	require.Equal(t, 27, r.Foreign)
	var b bytes.Buffer
	require.NoError(t, r.Summary(&b))
	require.Contains(t, b.String(), "27 events of other jobs on the same server were dropped at the source (foreign)")

	clean := report.New(meta, results(t, "orphaned/fail-reserve.jsonl", check.Params{}))
	require.Zero(t, clean.Foreign)
	b.Reset()
	require.NoError(t, clean.Summary(&b))
	require.NotContains(t, b.String(), "foreign")
}
