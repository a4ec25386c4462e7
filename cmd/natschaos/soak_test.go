package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/internal/slowtest"
)

// TestSoakUsage: bad soak flags exit 2 before anything starts, naming the flag.
func TestSoakUsage(t *testing.T) {
	for _, tc := range []struct {
		line string // the command line, split at spaces
		want string
	}{
		{"soak", "--duration"},
		{"soak --duration 1m --job-size 10-5", "--job-size"},
		{"soak --duration 1m --job-size x", "--job-size"},
		{"soak --duration 1m --variant nope", "--variant"},
		{"soak --duration 1m --jobs-in-flight 0", "--jobs-in-flight"},
		{"soak --duration 1m --task-rate 0", "--task-rate"},
		{"soak --duration 1m --task-rate -5", "--task-rate"},
		{"soak --duration 1m --task-rate 1e9", "--task-rate"},
		{"soak --duration 1m --task-rate NaN", "--task-rate"},
		{"soak --duration 1m --task-rate fast", "--task-rate"},
		{"soak --duration 1m -s no-such-scenario", "no-such-scenario"},
		// External mode: run's flags, checked the same way; a soak creates its jobs.
		{"soak --duration 1m --api-url http://127.0.0.1:1", "both --nats-url and --api-url"},
		{"soak --duration 1m --api-token x", "--api-token is for external mode"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url ftp://x", "--api-url"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url http://127.0.0.1:1 --variant slow-leak", "--variant"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url http://127.0.0.1:1 --proxy nope=127.0.0.1:1", "--proxy"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url http://127.0.0.1:1 -s nats-restart", "nats_restart"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url http://127.0.0.1:1 --job-id 3", "--job-id"},
		{"soak --duration 1m --nats-url nats://127.0.0.1:1 --api-url http://127.0.0.1:1 --external-workers", "--external-workers"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(new(bytes.Buffer))
		root.SetArgs(append(strings.Fields(tc.line), "--out", t.TempDir()))
		err := root.ExecuteContext(t.Context())
		require.Equal(t, 2, exitCode(err), "%s: %v", tc.line, err)
		require.Empty(t, out.String())
		require.ErrorContains(t, err, tc.want, tc.line)
	}
	lo, hi, err := parseRange("300")
	require.NoError(t, err)
	require.Equal(t, [2]int{300, 300}, [2]int{lo, hi})
}

// TestSoakOutputs: a short soak leaves index.html beside report.json,
// natschaos report renders it again, and --junit writes a JUnit file that
// parses back: a suite per interval with a case per window check, and the
// soak's suite with resource-growth.
func TestSoakOutputs(t *testing.T) {
	slowtest.Skip(t, "a soak of seconds")
	out := filepath.Join(t.TempDir(), "soak")
	junit := filepath.Join(t.TempDir(), "ci", "soak.xml")
	code, stdout, stderr := cli(t, "soak", "-s", "testdata/tiny.yaml", "--seed", "5", "--duration", "3s", "--report-every", "1s",
		"--job-size", "20-40", "--jobs-in-flight", "2", "--out", out, "--junit", junit)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	index := filepath.Join(out, chaos.IndexHTML)
	b, err := os.ReadFile(index)
	require.NoError(t, err)
	page := string(b)
	for _, want := range []string{`id="verdict">PASS<`, "soak tiny", `id="growth"`, `id="intervals"`, `id="jobs"`, "jobs judged", "CPU s per 1,000 /tasks", "no job failed"} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, "still running")
	require.NotContains(t, page, `src="http`, "self-contained")
	require.NotContains(t, page, `href="http`, "self-contained")

	require.NoError(t, os.Remove(index))
	code, stdout, stderr = cli(t, "report", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	again, err := os.ReadFile(index)
	require.NoError(t, err)
	require.Equal(t, page, string(again), "rendered again from report.json alone")

	ts := junitCounts(t, junit)
	require.Equal(t, 0, ts.Failures)
	require.Equal(t, 0, ts.Errors)
	var suites []string
	for _, s := range ts.Suites {
		suites = append(suites, s.Name)
	}
	require.Equal(t, "soak", suites[len(suites)-1], "%v", suites)
	require.Regexp(t, `^interval-\d+$`, suites[len(suites)-2], "%v", suites)
	var cases []string
	for _, c := range ts.Suites[len(suites)-2].Cases {
		cases = append(cases, c.Name)
	}
	require.Subset(t, cases, []string{"tasks-latency", "fast-503", "liveness", "connection-flood"})
	cases = nil
	for _, c := range ts.Suites[len(suites)-1].Cases {
		cases = append(cases, c.Name)
	}
	require.Equal(t, []string{"resource-growth", "jobs-passed"}, cases)
}
