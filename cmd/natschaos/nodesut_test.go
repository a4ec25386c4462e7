package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// A system under test natschaos did not shape (issue 9, point 5): the task
// API of docs/protocol.md written again in Node.js on nats.js
// (testdata/nodesut/server.js), with the platform's topology rather than the
// reference API's — a NATS connection per request, the result processor in
// the same process on the same NATS URL (its acks cross api-nats; no
// results-nats link), a connection per ack, a few more JetStream metadata
// calls per /tasks and one pull that returns what is ready — and a switch
// that leaks every request's connection. External mode must pass its good
// mode and catch the leak.

const nodeSUTDir = "testdata/nodesut"

// nodeSUT returns the node binary, after `npm ci` in the fixture when its
// dependencies are not installed. Without node or npm it skips, except on
// CI (CI=true), where it fails: CI must run this test.
func nodeSUT(t *testing.T) string {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if nerr != nil || perr != nil {
		msg := "node and npm are needed for the second system under test (testdata/nodesut): install nodejs and npm"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: this test must run on CI)")
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(filepath.Join(nodeSUTDir, "node_modules", "nats", "package.json")); err != nil {
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeSUTDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm ci in %s (installs nats.js from package-lock.json; the npm registry must be reachable):\n%s", nodeSUTDir, out)
	}
	return node
}

var listeningLine = regexp.MustCompile(`(?m)^listening (127\.0\.0\.1:[0-9]+)$`)

// startNodeSUT starts the Node API with env and returns its base URL once
// its liveness endpoint answers.
func startNodeSUT(t *testing.T, node string, env []string) (*process, string) {
	t.Helper()
	p := startProcess(t, "nodesut", env, node, filepath.Join(nodeSUTDir, "server.js"))
	var addr string
	polltest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if p.exited() {
			t.Fatalf("nodesut exited:\n%s", p.output())
		}
		m := listeningLine.FindStringSubmatch(p.output())
		if m == nil {
			return fmt.Errorf("no %q line yet", "listening 127.0.0.1:PORT")
		}
		addr = m[1]
		return nil
	})
	api := "http://" + addr
	waitHTTP(t, p, api+"/api/v2/")
	return p, api
}

// nodeEnv is the Node API's environment for scenario sc: its sut block's
// settings, as `natschaos sut` would take them.
func nodeEnv(t *testing.T, scenario, natsURL string, leak bool) []string {
	t.Helper()
	sc, ok := chaos.Lookup(scenario)
	require.True(t, ok, "scenario %s", scenario)
	s := sc.WithDefaults().SUT
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	env := []string{
		"NATS_URL=" + natsURL, "LISTEN=127.0.0.1:0", "API_TOKEN=" + extAPIToken,
		"ACK_WAIT_MS=" + ms(s.AckWait), "MAX_DELIVER=" + strconv.Itoa(s.MaxDeliver),
		"CONNECT_TIMEOUT_MS=" + ms(s.ConnectTimeout), "OP_TIMEOUT_MS=" + ms(s.OpTimeout),
		"FETCH_EXPIRES_MS=" + ms(s.FetchWait), "MAX_CONCURRENT=" + strconv.Itoa(s.MaxConcurrent),
		"LEAK_CONNECTIONS=0",
	}
	if s.MaxAckPending > 0 {
		env = append(env, "MAX_ACK_PENDING="+strconv.Itoa(s.MaxAckPending))
	}
	if leak {
		env = append(env, "LEAK_CONNECTIONS=1")
	}
	return env
}

// nodeCell is one external run against the Node API and what it gave.
type nodeCell struct {
	scenario string
	leak     bool
	code     int
	verdict  string
	failed   []string
	figures  map[string]string // check → summary, for the log
}

func (c nodeCell) mode() string {
	if c.leak {
		return "leak"
	}
	return "good"
}

// runNodeSUT runs `natschaos run -s scenario` in external mode against a
// fresh nats-server and a fresh Node API pointed at the api-nats proxy.
func runNodeSUT(t *testing.T, node, scenario string, leak bool) (nodeCell, externalRun, *process) {
	t.Helper()
	bin := buildTools(t).natschaos
	nats := startExternalNATS(t)
	apiNATS := freePort(t)
	natsURL := fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", extNATSUser, extNATSPassword, apiNATS)
	sut, api := startNodeSUT(t, node, nodeEnv(t, scenario, natsURL, leak))

	out := t.TempDir()
	run := startProcess(t, "natschaos run", []string{envNATSUser + "=" + extNATSUser, envNATSPassword + "=" + extNATSPassword},
		bin, "run", "-s", scenario, "--out", out,
		"--nats-url", nats.url, "--nats-monitor-url", nats.monitor,
		"--api-url", api, "--api-token", extAPIToken,
		"--proxy", fmt.Sprintf("api-nats=127.0.0.1:%d", apiNATS),
		"--ready-timeout", "30s")
	code := run.wait(t, 3*time.Minute)
	r := readRun(t, code, run.output()+"\n--- nodesut ---\n"+sut.output(), out, scenario)
	verdict, _ := r.report["verdict"].(string)
	figures := map[string]string{}
	for _, name := range []string{"round-trips", "connection-flood", "connection-leak"} {
		figures[name] = r.summary(name)
	}
	return nodeCell{scenario: scenario, leak: leak, code: code, verdict: verdict, failed: r.failed(), figures: figures}, r, sut
}

func TestNodeSUT(t *testing.T) {
	slowtest.Skip(t, "builds nats-server and natschaos, installs nats.js and runs eight external runs against a Node API (about two minutes)")
	node := nodeSUT(t)
	var cells []nodeCell
	defer func() {
		var b strings.Builder
		fmt.Fprintf(&b, "%-20s %-5s %-5s %-8s %s\n", "scenario", "mode", "exit", "verdict", "failed checks")
		for _, c := range cells {
			failed := strings.Join(c.failed, ", ")
			if failed == "" {
				failed = "-"
			}
			fmt.Fprintf(&b, "%-20s %-5s %-5d %-8s %s\n", c.scenario, c.mode(), c.code, c.verdict, failed)
		}
		for _, c := range cells {
			fmt.Fprintf(&b, "%s (%s):\n", c.scenario, c.mode())
			for _, name := range []string{"round-trips", "connection-flood", "connection-leak"} {
				fmt.Fprintf(&b, "  %-17s %s\n", name, c.figures[name])
			}
		}
		t.Logf("external mode against the Node API (testdata/nodesut):\n%s", b.String())
	}()

	for _, scenario := range []string{"baseline", "http-timeout-batch", "response-lost", "terminal-job", "nats-down", "nats-blackhole", "create-in-outage"} {
		t.Run("good/"+scenario, func(t *testing.T) {
			c, r, _ := runNodeSUT(t, node, scenario, false)
			cells = append(cells, c)
			require.Equal(t, 0, c.code, "%s: %v failed\n%s", scenario, c.failed, r.output)
			require.Equal(t, "pass", c.verdict)
			require.Contains(t, r.summary("contract"), " probes, 0 answered outside the contract, 0 results", "the contract probes ran against the Node API, whose /result looks the job up first")
			require.Contains(t, r.output, "natschaos: traffic flows through api-nats", "the Node API talks to NATS through the api-nats proxy")
			require.Contains(t, r.output, "natschaos: note: no byte went through results-nats", "the Node API's processor acks through api-nats, not a link of its own")
		})
	}
	t.Run("leak/baseline", func(t *testing.T) {
		c, r, sut := runNodeSUT(t, node, "baseline", true)
		cells = append(cells, c)
		// The switch worked whatever the checker says: the API counts the
		// connections it left open (their proxy is gone with the run, so
		// the server no longer shows them).
		require.NoError(t, sut.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-sut.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("nodesut did not stop on SIGTERM:\n%s", sut.output())
		}
		m := regexp.MustCompile(`stopping: ([0-9]+) connections opened, ([0-9]+) leaked`).FindStringSubmatch(sut.output())
		require.NotNil(t, m, "nodesut's last line\n%s", sut.output())
		leaked, _ := strconv.Atoi(m[2])
		require.Greater(t, leaked, 10, "LEAK_CONNECTIONS=1 leaves the request connections open")
		require.Equal(t, 1, c.code, "exit code of a violated invariant\n%s", r.output)
		require.Contains(t, c.failed, "connection-leak", "%s", r.output)
	})
}

// The Node API speaks the protocol on its own, before any chaos: the
// documented check order, a liveness endpoint that needs
// no NATS, and a fast 503 when NATS cannot be reached.
func TestNodeSUTProtocol(t *testing.T) {
	slowtest.Skip(t, "installs nats.js and starts a Node API")
	node := nodeSUT(t)
	dead := freePort(t) // nothing listens there: NATS is unreachable
	_, api := startNodeSUT(t, node, []string{
		fmt.Sprintf("NATS_URL=nats://127.0.0.1:%d", dead), "LISTEN=127.0.0.1:0", "API_TOKEN=" + extAPIToken,
		"CONNECT_TIMEOUT_MS=300", "OP_TIMEOUT_MS=500", "LEAK_CONNECTIONS=0",
	})
	call := func(method, path, token, body string) (int, string, time.Duration) {
		t.Helper()
		var sent []byte
		if body != "" {
			sent = []byte(body)
		}
		start := time.Now()
		status, data, err := apicall.Do(context.Background(), http.DefaultClient,
			apicall.Request{Method: method, URL: api + path, Body: sent, Auth: apicall.Auth(token)}, 1<<20)
		require.NoError(t, err)
		return status, string(bytes.TrimSpace(data)), time.Since(start)
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"liveness without NATS", "GET", "/api/v2/", "", "", 200, `"jobs"`},
		{"list needs the token", "GET", "/api/v2/jobs/?ids_only=1&incomplete_only=1", "", "", 401, "invalid token"},
		{"empty list", "GET", "/api/v2/jobs/?ids_only=1&incomplete_only=1", extAPIToken, "", 200, `"count":0`},
		{"tasks: bad body before unknown job", "POST", "/api/v2/jobs/7/tasks/", "", `{"batch_size":0}`, 400, "batch_size"},
		{"tasks: unknown job before the token", "POST", "/api/v2/jobs/7/tasks/", "", `{"batch_size":4}`, 404, "job not found"},
		{"result: unknown job before the body", "POST", "/api/v2/jobs/7/result/", "", `nonsense`, 404, "job not found"},
		{"create: bad total", "POST", "/api/v2/jobs/", extAPIToken, `{"total":0}`, 400, "total"},
		{"create: token", "POST", "/api/v2/jobs/", "wrong", `{"total":3,"start_now":true}`, 401, "invalid token"},
		{"create: NATS unreachable is a 503", "POST", "/api/v2/jobs/", extAPIToken, `{"total":3,"start_now":true}`, 503, "Task queue temporarily unavailable"},
	} {
		status, body, took := call(tc.method, tc.path, tc.token, tc.body)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, body)
		require.Contains(t, body, tc.want, tc.name)
		require.Less(t, took, 2*time.Second, "%s answered fast", tc.name)
	}
}
