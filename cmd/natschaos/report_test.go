package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
)

// reportCmd runs `natschaos report args...` in-process and returns the exit
// code and the output.
func reportCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"report"}, args...))
	err := root.ExecuteContext(context.Background())
	return exitCode(err), out.String()
}

// copyHistory copies a hand-written history of chaos/check/testdata into
// dir/history.jsonl.
func copyHistory(t *testing.T, file, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "chaos", "check", "testdata", file))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "history.jsonl")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// TestReportResultsDir: a results directory as natschaos run leaves it (one
// folder per scenario with report.json and history.jsonl) gets report.html
// in every folder and an index.html linking them.
func TestReportResultsDir(t *testing.T) {
	dir := t.TempDir()
	for _, sc := range []struct{ name, file string }{{"orphans", "orphaned/fail-reserve.jsonl"}, {"fine", "orphaned/pass.jsonl"}} {
		hist := copyHistory(t, sc.file, filepath.Join(dir, sc.name))
		rs, err := check.RunFile(hist, check.Params{})
		require.NoError(t, err)
		require.NoError(t, report.New(report.Meta{Scenario: sc.name}, rs).WriteJSON(filepath.Join(dir, sc.name, "report.json")))
	}
	code, out := reportCmd(t, dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "2 reports rendered")
	for _, f := range []string{"orphans/report.html", "fine/report.html", "index.html"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(index), `href="orphans/report.html"`)
	require.Contains(t, string(index), `href="fine/report.html"`)
	page, err := os.ReadFile(filepath.Join(dir, "orphans", "report.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), `class="trace-link" href="#trace-1"`, "the orphaned offense links its trace")

	// One scenario's folder works too.
	require.NoError(t, os.Remove(filepath.Join(dir, "fine", "report.html")))
	code, out = reportCmd(t, filepath.Join(dir, "fine"))
	require.Equal(t, 0, code, out)
	require.FileExists(t, filepath.Join(dir, "fine", "report.html"))
}

// TestReportHistory: a history file is judged again and gets report.html
// beside it.
func TestReportHistory(t *testing.T) {
	hist := copyHistory(t, "orphaned/fail-reserve.jsonl", t.TempDir())
	code, out := reportCmd(t, hist)
	require.Equal(t, 0, code, out)
	html := filepath.Join(filepath.Dir(hist), "report.html")
	require.FileExists(t, html)
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(b), `data-check="orphaned"`)
	require.Contains(t, string(b), `id="verdict">FAIL<`)
}

// TestReportUsageErrors: a missing path, a folder without reports, a
// malformed history and no argument exit 2.
func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("{\"t\":1,\"kind\":\"phase\",\"name\":\"warmup\"}\nnot json\n{\"t\":2,\"kind\":\"phase\",\"name\":\"end\"}\n"), 0o644))
	// A results directory whose history has a malformed line.
	results := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(results, "s"), 0o755))
	require.NoError(t, (&report.Report{Scenario: "s", Verdict: report.Pass}).WriteJSON(filepath.Join(results, "s", "report.json")))
	b, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(results, "s", "history.jsonl"), b, 0o644))
	for name, args := range map[string][]string{
		"missing":            {filepath.Join(dir, "nope")},
		"empty dir":          {dir},
		"malformed":          {bad},
		"malformed in a dir": {results},
		"no arg":             {},
	} {
		t.Run(name, func(t *testing.T) {
			code, out := reportCmd(t, args...)
			require.Equal(t, 2, code, out)
		})
	}
	_, err = os.Stat(filepath.Join(dir, "report.html"))
	require.True(t, os.IsNotExist(err), "nothing written for a malformed history")
}
