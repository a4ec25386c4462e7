package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

// runCaptured runs the command line in process and returns its exit code
// and what it wrote to stdout and stderr.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "output")
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = f, f
	code := run(args)
	os.Stdout, os.Stderr = stdout, stderr
	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	out, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return code, string(out)
}

// Every usage error exits 2 with a message naming what is wrong, before any
// results directory is made (neither --out nor the default one), and
// without printing a credential of a URL it refuses.
func TestUsageErrorsExit2(t *testing.T) {
	badScenario, err := filepath.Abs(filepath.Join("..", "..", "chaos", "testdata", "bad", "too-many-workers.yaml"))
	require.NoError(t, err)
	hist := t.TempDir()
	longLine := filepath.Join(hist, "long.jsonl")
	require.NoError(t, os.WriteFile(longLine, []byte(`{"t":0,"kind":"config"}`+"\n"+`{"t":1,"kind":"stored","task":"`+strings.Repeat("x", history.MaxLine)+`"}`+"\n"), 0o600))

	work := t.TempDir()
	t.Chdir(work) // the default results directory would appear here
	out := filepath.Join(work, "results")
	ext := func(args ...string) []string {
		return append([]string{"run", "--out", out, "-s", "baseline"}, args...)
	}
	nats, api := "nats://127.0.0.1:1", "http://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown command", []string{"nosuch"}, `unknown command "nosuch"`},
		{"check without a file", []string{"check"}, "accepts 1 arg(s), received 0"},
		{"check with two files", []string{"check", "a.jsonl", "b.jsonl"}, "accepts 1 arg(s), received 2"},
		{"list with an argument", []string{"list", "extra"}, `unknown command "extra" for "natschaos list"`},
		{"run with an argument", []string{"run", "--out", out, "extra"}, `unknown command "extra" for "natschaos run"`},
		{"unknown flag", []string{"run", "--out", out, "--bogus"}, "unknown flag: --bogus"},
		{"unknown scenario", []string{"run", "--out", out, "-s", "nosuch"}, `unknown scenario "nosuch"`},
		{"unknown scenario, default out", []string{"run", "-s", "nosuch"}, `unknown scenario "nosuch"`},
		{"bad scenario file", []string{"run", "--out", out, "-s", badScenario}, "too-many-workers.yaml:3: workload.workers: 100000 is more than 1000"},
		{"unknown variant", []string{"run", "--out", out, "--variant", "nosuch"}, `--variant "nosuch": unknown`},
		{"missing history", []string{"check", filepath.Join(hist, "missing.jsonl")}, "missing.jsonl: no such file"},
		{"history is a directory", []string{"check", hist}, "is a directory"},
		{"history line over 1 MiB", []string{"check", longLine}, longLine + ":2: line longer than 1 MiB"},
		{"api url scheme", ext("--api-url", "ftp://x", "--nats-url", nats), `--api-url "ftp://x": scheme "ftp" (want http or https)`},
		{"api url without host", ext("--api-url", "http://", "--nats-url", nats), "--api-url \"http:\": no host"},
		{"api url garbage", ext("--api-url", "garbage", "--nats-url", nats), `--api-url "garbage": scheme ""`},
		{"api url bad escape", ext("--api-url", "http://h%zz:80", "--nats-url", nats), "--api-url \"http://h%zz:80\": not a URL"},
		{"api url port", ext("--api-url", "http://127.0.0.1:99999", "--nats-url", nats), `port "99999" (want 1 to 65535)`},
		{"api url without nats url", ext("--api-url", api), "external mode needs both --nats-url and --api-url"},
		{"nats url garbage", ext("--api-url", api, "--nats-url", "garbage"), `--nats-url "garbage": scheme ""`},
		{"nats url scheme", ext("--api-url", api, "--nats-url", "http://127.0.0.1:4222"), `--nats-url "http://127.0.0.1:4222": scheme "http"`},
		{"monitor url", ext("--api-url", api, "--nats-url", nats, "--nats-monitor-url", "127.0.0.1:8222"), "--nats-monitor-url"},
		{"proxy without port", ext("--api-url", api, "--nats-url", nats, "--proxy", "api-nats=127.0.0.1"), `--proxy "api-nats=127.0.0.1": want LINK=HOST:PORT`},
		{"proxy bad port", ext("--api-url", api, "--nats-url", nats, "--proxy", "api-nats=127.0.0.1:http"), `port "http": want a number`},
		{"proxy unknown link", ext("--api-url", api, "--nats-url", nats, "--proxy", "api-redis=127.0.0.1:1"), `unknown link "api-redis"`},
		{"proxy twice", ext("--api-url", api, "--nats-url", nats, "--proxy", "api-nats=127.0.0.1:1", "--proxy", "api-nats=127.0.0.1:2"), "--proxy api-nats given twice"},
		{"external flag alone", ext("--job-id", "3"), "--job-id is for external mode"},
		{"toxiproxy url", []string{"run", "--out", out, "--toxiproxy", "127.0.0.1:8474"}, `--toxiproxy "127.0.0.1:8474": not a URL (want http://host:port)`},
		{"bad run id", []string{"run", "--out", out, "--toxiproxy", "http://127.0.0.1:1", "--run-id", "Bad Id"}, "--run-id"},
		{"bad time scale", []string{"run", "--out", out, "--time-scale", "-1"}, "--time-scale"},
		{"sut nats url", []string{"sut", "--nats-url", "garbage"}, `--nats-url "garbage": scheme ""`},
		{"sut results nats url", []string{"sut", "--nats-url", nats, "--results-nats-url", "nats://alice:s3cr%zz@h"}, `--results-nats-url "nats://h": not a URL`},
		{"secret in a refused api url", ext("--api-url", "ftp://alice:s3cr%40t-9c@x", "--nats-url", nats), `--api-url "ftp://x"`},
		{"secret in a refused nats url", ext("--api-url", api, "--nats-url", "tcp://bob:n%61ts-pw@127.0.0.1:4222"), `--nats-url "tcp://127.0.0.1:4222"`},
		{"secret in an unparsable url", ext("--api-url", "http://alice:s3cr%zz@h:1", "--nats-url", nats), `--api-url "http://h:1": not a URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, output := runCaptured(t, tc.args...)
			require.Equal(t, 2, code, "exit code of %q\n%s", tc.args, output)
			require.Contains(t, output, tc.msg)
			for _, secret := range []string{"s3cr", "alice", "nats-pw", "n%61ts"} {
				require.NotContains(t, output, secret, "a credential was printed")
			}
			entries, err := os.ReadDir(work)
			require.NoError(t, err)
			require.Empty(t, entries, "a usage error made a results directory")
		})
	}
}

// Histories with huge sequence numbers are judged, not refused: a
// long-lived stream's sequences do not fit the run, and no checker
// allocates in proportion to them (chaos/check TestRunHugeSequences).
func TestCheckHugeSequences(t *testing.T) {
	dir := filepath.Join("..", "..", "chaos", "check", "testdata", "orphaned")
	code, out := runCaptured(t, "check", filepath.Join(dir, "pass-huge-seq.jsonl"))
	require.Equal(t, 0, code, out)
	code, out = runCaptured(t, "check", filepath.Join(dir, "fail-huge-dc.jsonl"))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "highest dc 2147483648")
}
