package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkCmd runs `natschaos check` in-process on a hand-written history of
// chaos/check/testdata and returns the exit code, the terminal output and
// the error that decided the exit code.
func checkCmd(t *testing.T, file string, flags ...string) (int, string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(append([]string{"check"}, flags...), filepath.Join("..", "..", "chaos", "check", "testdata", file)))
	err := root.ExecuteContext(context.Background())
	return exitCode(err), out.String(), err
}

// TestCheckExitCodes: pass 0, fail 1, inconclusive 3 with the reason, for
// histories of every kind.
func TestCheckExitCodes(t *testing.T) {
	for _, tc := range []struct {
		file   string
		flags  []string
		code   int
		header string // on the summary's first line
		why    string // in the error (exit 3) and the summary
	}{
		{file: "no-loss/pass.jsonl", code: 0, header: "PASS ("},
		{file: "no-loss/pass.jsonl", flags: []string{"--strict"}, code: 1, header: "FAIL"},
		{file: "no-loss/fail-lost.jsonl", code: 1, header: "FAIL"},
		{file: "no-loss/fail-foreign-advisory.jsonl", code: 1, header: "FAIL"},
		{file: "run/errors-5xx-from-start.jsonl", code: 1, header: "FAIL"},
		{file: "run/errors-timeout-from-start.jsonl", code: 1, header: "FAIL"},
		{file: "no-loss/unknown-no-drain.jsonl", code: 3, header: "INCONCLUSIVE", why: "no end phase"},
		{file: "no-loss/unknown-no-drain.jsonl", flags: []string{"--strict"}, code: 3, header: "INCONCLUSIVE", why: "no end phase"},
		{file: "no-loss/unknown-in-flight.jsonl", code: 3, header: "INCONCLUSIVE", why: "still in flight"},
		{file: "no-loss/unknown-in-flight-at-end.jsonl", code: 3, header: "INCONCLUSIVE", why: "1 tasks still in flight"},
		{file: "run/no-calls.jsonl", code: 3, header: "INCONCLUSIVE", why: "never asked for tasks"},
		{file: "run/no-config.jsonl", code: 3, header: "INCONCLUSIVE", why: "no config event"},
	} {
		t.Run(tc.file+fmtFlags(tc.flags), func(t *testing.T) {
			code, out, err := checkCmd(t, tc.file, tc.flags...)
			t.Log(out)
			require.Equal(t, tc.code, code, "%v", err)
			first, _, _ := bytes.Cut([]byte(out), []byte("\n"))
			require.Contains(t, string(first), "): "+tc.header)
			if tc.why != "" {
				require.ErrorContains(t, err, "inconclusive: ")
				require.ErrorContains(t, err, tc.why)
				require.Contains(t, out, tc.why)
			}
		})
	}
}

func fmtFlags(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return "_" + f[0]
}
