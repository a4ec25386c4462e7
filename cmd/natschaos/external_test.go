package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/harness/worker/workertest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
)

// External mode against real processes (issue 6): a nats-server built from
// github.com/nats-io/nats-server/v2 with JetStream, monitoring and a user
// and password, `natschaos sut` as its own process pointed at the api-nats
// and results-nats proxy addresses (fixed with --proxy, so that the API
// starts first), and `natschaos run --nats-url --api-url`.

// Credentials of the test; none of them may appear in any output or result.
const (
	extNATSUser     = "natschaos"
	extNATSPassword = "nats-pw-5f3a9c"
	extAPIToken     = "api-token-8e1d77"

	// User information in URLs, percent-encoded: neither the raw nor the
	// decoded form may appear. extNATSPasswordEncoded decodes to
	// extNATSPassword; the API and the monitoring port ignore theirs.
	extNATSPasswordEncoded = "%6Eats-pw-5f3a9c"
	extAPIURLPassword      = "api%40pw-3c1b" // api@pw-3c1b
	extMonitorPassword     = "mon%2Fpw-7d2e" // mon/pw-7d2e
)

// extSecrets are every form of every credential of the tests.
var extSecrets = []string{extNATSPassword, extAPIToken, extNATSPasswordEncoded,
	extAPIURLPassword, "api@pw-3c1b", "api%40pw", extMonitorPassword, "mon/pw-7d2e"}

var (
	natsServerOnce sync.Once
	natsServerBin  string
	natsServerErr  error
)

// buildNATSServer builds nats-server once per test binary, next to natschaos.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	buildTools(t)
	natsServerOnce.Do(func() {
		natsServerBin = filepath.Join(buildDir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsServerBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsServerErr = fmt.Errorf("go build nats-server: %w\n%s", err, out)
		}
	})
	require.NoError(t, natsServerErr)
	return natsServerBin
}

// process is a child process killed when the test ends.
type process struct {
	*child
	name string
}

func startProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return &process{child: startChild(t, cmd), name: name}
}

// waitHTTP waits until url answers 200, failing early when p exits.
func waitHTTP(t *testing.T, p *process, url string) {
	t.Helper()
	polltest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if p.exited() {
			t.Fatalf("%s exited:\n%s", p.name, p.output())
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return nil
	})
}

// externalNATS is a nats-server process with JetStream and monitoring.
type externalNATS struct {
	url, monitor string
}

func startExternalNATS(t *testing.T) externalNATS {
	t.Helper()
	bin := buildNATSServer(t)
	port, mport := freePort(t), freePort(t)
	p := startProcess(t, "nats-server", nil, bin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1",
		"-p", strconv.Itoa(port), "-m", strconv.Itoa(mport), "--user", extNATSUser, "--pass", extNATSPassword)
	n := externalNATS{url: fmt.Sprintf("nats://127.0.0.1:%d", port), monitor: fmt.Sprintf("http://127.0.0.1:%d", mport)}
	waitHTTP(t, p, n.monitor+"/healthz?js-enabled-only=true")
	return n
}

// externalRun is the outcome of one `natschaos run` in external mode.
type externalRun struct {
	code   int
	output string // stdout and stderr of natschaos run and of the sut
	out    string // results directory
	report map[string]any
}

// readRun is a finished run that exited code, printed output and wrote
// the report of scenario under out.
func readRun(t *testing.T, code int, output, out, scenario string) externalRun {
	t.Helper()
	r := externalRun{code: code, output: output, out: out}
	data, err := os.ReadFile(filepath.Join(out, scenario, "report.json"))
	require.NoError(t, err, "report.json\n%s", r.output)
	require.NoError(t, json.Unmarshal(data, &r.report))
	return r
}

// runExternal starts `natschaos sut --variant variant` pointed at the proxy
// addresses natschaos will create, then `natschaos run -s scenario` in
// external mode, and returns its exit code and report.
func runExternal(t *testing.T, nats externalNATS, variant, scenario string, sutArgs ...string) externalRun {
	t.Helper()
	bin := buildTools(t).natschaos
	apiNATS, resultsNATS, apiPort := freePort(t), freePort(t), freePort(t)
	natsURL := func(port int) string {
		return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", extNATSUser, extNATSPassword, port)
	}
	args := append([]string{"sut", "--variant", variant, "--listen", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--nats-url", natsURL(apiNATS), "--results-nats-url", natsURL(resultsNATS),
		"--ack-wait", "2s", "--max-deliver", "3", "--connect-timeout", "500ms", "--op-timeout", "1s"}, sutArgs...)
	sut := startProcess(t, "natschaos sut", []string{tokenEnv + "=" + extAPIToken}, bin, args...)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	waitHTTP(t, sut, apiURL+"/api/v2/")

	out := t.TempDir()
	run := startProcess(t, "natschaos run", []string{
		envAPIToken + "=" + extAPIToken, envNATSUser + "=" + extNATSUser, envNATSPassword + "=" + extNATSPassword,
	}, bin, "run", "-s", scenario, "--out", out,
		"--nats-url", nats.url, "--nats-monitor-url", nats.monitor, "--api-url", apiURL,
		"--proxy", fmt.Sprintf("api-nats=127.0.0.1:%d", apiNATS),
		"--proxy", fmt.Sprintf("results-nats=127.0.0.1:%d", resultsNATS),
		"--ready-timeout", "30s")
	code := run.wait(t, 2*time.Minute)
	r := readRun(t, code, run.output()+"\n--- sut ---\n"+sut.output(), out, scenario)
	requireNoSecret(t, r)
	// The checkers judge nothing before the config event: external mode
	// writes it first although it learns it after the run started.
	hist, err := os.ReadFile(filepath.Join(out, scenario, "history.jsonl"))
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(hist), "\n")
	require.Contains(t, first, `"kind":"config"`, "the first event of the history")
	return r
}

// failed lists the checks a report says failed.
func (r externalRun) failed() []string {
	var out []string
	checks, _ := r.report["checks"].([]any)
	for _, c := range checks {
		m, _ := c.(map[string]any)
		if ok, isBool := m["ok"].(bool); isBool && !ok {
			out = append(out, m["name"].(string))
		}
	}
	return out
}

// summary is the summary of the named check in the report ("" when absent).
func (r externalRun) summary(name string) string {
	checks, _ := r.report["checks"].([]any)
	for _, c := range checks {
		if m, _ := c.(map[string]any); m["name"] == name {
			s, _ := m["summary"].(string)
			return s
		}
	}
	return ""
}

// requireNoSecret fails when a credential shows in the output or in any
// file of the results.
func requireNoSecret(t *testing.T, r externalRun) {
	t.Helper()
	secrets := extSecrets
	for _, s := range secrets {
		require.NotContains(t, r.output, s, "a credential was printed")
	}
	err := filepath.WalkDir(r.out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				return fmt.Errorf("a credential was written into %s", path)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestExternalMode(t *testing.T) {
	slowtest.Skip(t, "builds nats-server and natschaos and runs external mode against them as processes (about a minute)")
	nats := startExternalNATS(t)

	t.Run("good passes http-timeout-batch", func(t *testing.T) {
		r := runExternal(t, nats, "good", "http-timeout-batch")
		require.Equal(t, 0, r.code, "%v failed\n%s", r.failed(), r.output)
		require.Equal(t, "pass", r.report["verdict"])
		tasks := r.report["tasks"].(map[string]any)
		require.EqualValues(t, 400, tasks["published"])
		require.EqualValues(t, 400, tasks["stored"], "stored results are read back from the API")
		for _, line := range []string{
			"API's NATS URL (link api-nats)",
			"natschaos: created job",
			"natschaos: consumer job-1-consumer: ack_wait 2s, max_deliver 3",
			"natschaos: traffic flows through api-nats and worker-api",
		} {
			require.Contains(t, r.output, line)
		}
	})
	t.Run("the consumer's settings, not the scenario's", func(t *testing.T) {
		r := runExternal(t, nats, "good", "baseline", "--ack-wait", "3s", "--max-deliver", "2")
		require.Equal(t, 0, r.code, "%v failed\n%s", r.failed(), r.output)
		require.Contains(t, r.output, "natschaos: the consumer's ack_wait 3s, max_deliver 2, max_ack_pending 1000 differ from the scenario's (4s, 3, 1000): the drain (up to 9s)")
		tol := r.report["tolerances"].(map[string]any)
		require.InDelta(t, 0.15, tol["epsilon_seconds"], 1e-9, "ε is 5 %% of the consumer's ack_wait")
		require.InDelta(t, 1.5, tol["max_stall_seconds"], 1e-9, "max_stall is half the consumer's ack_wait")
	})
	t.Run("reserve-one-by-one fails http-timeout-batch", func(t *testing.T) {
		r := runExternal(t, nats, "reserve-one-by-one", "http-timeout-batch")
		require.Equal(t, 1, r.code, "exit code of a violated invariant\n%s", r.output)
		require.Subset(t, r.failed(), []string{"orphaned", "stall"}, "%s", r.output)
		require.Contains(t, r.output, "orphaned")
		require.Contains(t, r.output, "stall")
	})
	t.Run("swallow-timeout fails fast-503 on nats-down", func(t *testing.T) {
		r := runExternal(t, nats, "swallow-timeout", "nats-down")
		require.Equal(t, 1, r.code, "exit code of a violated invariant\n%s", r.output)
		require.Contains(t, r.failed(), "fast-503", "%s", r.output)
	})
}

func TestExternalModeRefusesProcessFaults(t *testing.T) {
	slowtest.Skip(t, "builds natschaos")
	bin := buildTools(t).natschaos
	for _, tc := range []struct{ scenario, want string }{
		{"nats-restart", "nats_restart needs a NATS process the harness controls"},
		{"processor-crash", "processor_crash needs the reference API in the harness's process"},
	} {
		p := startProcess(t, "natschaos run", nil, bin, "run", "-s", tc.scenario, "--out", t.TempDir(),
			"--nats-url", "nats://127.0.0.1:1", "--api-url", "http://127.0.0.1:1")
		code := p.wait(t, 30*time.Second)
		require.Equal(t, 2, code, "a scenario external mode cannot run is bad usage\n%s", p.output())
		require.Contains(t, p.output(), tc.want)
	}
}

// The platform's way: its API created the job and publishes the tasks
// itself (--job-id, --observe-publishes), its own workers poll through the
// worker-api proxy (--external-workers; here a worker pool of this test
// process, which records nothing: the recording proxy does).
func TestExternalModePlatform(t *testing.T) {
	slowtest.Skip(t, "builds nats-server and natschaos and runs external mode against them as processes")
	nats := startExternalNATS(t)
	bin := buildTools(t).natschaos
	apiNATS, resultsNATS, apiPort, workerAPI := freePort(t), freePort(t), freePort(t), freePort(t)
	natsURL := func(port int) string {
		return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", extNATSUser, extNATSPassword, port)
	}
	sut := startProcess(t, "natschaos sut", []string{tokenEnv + "=" + extAPIToken}, bin, "sut", "-v",
		"--listen", fmt.Sprintf("127.0.0.1:%d", apiPort), "--nats-url", natsURL(apiNATS), "--results-nats-url", natsURL(resultsNATS),
		"--ack-wait", "2s", "--max-deliver", "3", "--connect-timeout", "500ms", "--op-timeout", "1s")
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	waitHTTP(t, sut, apiURL+"/api/v2/")

	// The platform's job, created once natschaos's api-nats proxy exists
	// (until then the API answers 503) and natschaos waits for it.
	const tasks = 200
	client := &harness.APIClient{BaseURL: apiURL + "/api/v2", Token: extAPIToken}
	out := t.TempDir()
	// Credentials in the URLs this time, percent-encoded: they are used
	// (the NATS needs its password) and never printed nor written.
	withUser := func(raw, userinfo string) string { return strings.Replace(raw, "://", "://"+userinfo+"@", 1) }
	run := startProcess(t, "natschaos run", []string{envAPIToken + "=" + extAPIToken},
		bin, "run", "-s", "testdata/platform.yaml", "--out", out, "--ready-timeout", "30s",
		"--nats-url", withUser(nats.url, extNATSUser+":"+extNATSPasswordEncoded),
		"--nats-monitor-url", withUser(nats.monitor, "mon:"+extMonitorPassword),
		"--api-url", withUser(apiURL, "probe:"+extAPIURLPassword), "--job-id", "1",
		"--observe-publishes", "--external-workers",
		"--proxy", fmt.Sprintf("api-nats=127.0.0.1:%d", apiNATS), "--proxy", fmt.Sprintf("results-nats=127.0.0.1:%d", resultsNATS),
		"--proxy", fmt.Sprintf("worker-api=127.0.0.1:%d", workerAPI))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run.waitOutput(t, 30*time.Second, "waiting up to 30s for job 1 to exist")
	job, err := client.CreateJob(ctx, "platform", tasks)
	require.NoError(t, err)
	require.EqualValues(t, 1, job)

	// Once natschaos records publishes, the platform publishes its tasks.
	run.waitOutput(t, 30*time.Second, "recording the API's own publishes")
	nc, err := natsgo.Connect(nats.url, natsgo.UserInfo(extNATSUser, extNATSPassword))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, harness.Publish(ctx, js, job, tasks, history.Discard))
	nc.Close() // a connection left open would be a leak in the run's history

	// The platform's workers, through the worker-api proxy.
	wc := worker.DefaultConfig(fmt.Sprintf("http://127.0.0.1:%d/api/v2", workerAPI), "gpu")
	wc.Token, wc.BatchSize, wc.HTTPTimeout, wc.ProcessTime, wc.IdleSleep = extAPIToken, 16, 2*time.Second, 20*time.Millisecond, 200*time.Millisecond
	workertest.Start(t, ctx, 2, wc)

	code := run.wait(t, 2*time.Minute)
	r := readRun(t, code, run.output(), out, "platform")
	requireNoSecret(t, r)
	if code != 0 {
		t.Logf("sut:\n%s", sut.output())
	}
	require.Equal(t, 0, code, "%v failed\n%s", r.failed(), r.output)
	got := r.report["tasks"].(map[string]any)
	require.EqualValues(t, tasks, got["published"], "publishes observed on the task subject")
	require.EqualValues(t, tasks, got["stored"], "stored results read back from the API")
	hist, err := os.ReadFile(filepath.Join(out, "platform", "history.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(hist), `"kind":"handout"`, "the recording proxy records the external workers' handouts")
	require.Contains(t, string(hist), `"kind":"result"`)
}

// An external run interrupted by SIGTERM in the middle of the job it
// created cancels that job on its way out, and says so.
func TestExternalModeSIGTERMCancelsItsJob(t *testing.T) {
	slowtest.Skip(t, "builds nats-server and natschaos and runs external mode against them as processes")
	nats := startExternalNATS(t)
	bin := buildTools(t).natschaos
	apiNATS, resultsNATS, apiPort := freePort(t), freePort(t), freePort(t)
	natsURL := func(port int) string {
		return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", extNATSUser, extNATSPassword, port)
	}
	sut := startProcess(t, "natschaos sut", []string{tokenEnv + "=" + extAPIToken}, bin, "sut",
		"--listen", fmt.Sprintf("127.0.0.1:%d", apiPort), "--nats-url", natsURL(apiNATS), "--results-nats-url", natsURL(resultsNATS),
		"--ack-wait", "2s", "--max-deliver", "3", "--connect-timeout", "500ms", "--op-timeout", "1s")
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	waitHTTP(t, sut, apiURL+"/api/v2/")
	run := startProcess(t, "natschaos run", []string{envAPIToken + "=" + extAPIToken, envNATSUser + "=" + extNATSUser, envNATSPassword + "=" + extNATSPassword},
		bin, "run", "-s", "testdata/long-job.yaml", "--out", t.TempDir(), "--ready-timeout", "30s",
		"--nats-url", nats.url, "--nats-monitor-url", nats.monitor, "--api-url", apiURL,
		"--proxy", fmt.Sprintf("api-nats=127.0.0.1:%d", apiNATS), "--proxy", fmt.Sprintf("results-nats=127.0.0.1:%d", resultsNATS))
	client := &harness.APIClient{BaseURL: apiURL + "/api/v2", Token: extAPIToken}
	polltest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if run.exited() {
			t.Fatalf("natschaos exited early:\n%s", run.output())
		}
		if !strings.Contains(run.output(), "the run starts") {
			return errors.New("the run has not started yet")
		}
		st, err := client.Job(context.Background(), 1)
		if err != nil || st.Progress.Stored == 0 {
			return fmt.Errorf("nothing stored yet (%v)", err)
		}
		return nil
	})
	require.NoError(t, run.cmd.Process.Signal(syscall.SIGTERM))
	code := run.wait(t, childWait)
	require.Equal(t, exitInterrupted, code, "an interrupted run\n%s", run.output())
	require.Contains(t, run.output(), "cancelled job 1 that this run created")
	st, err := client.Job(context.Background(), 1)
	require.NoError(t, err)
	t.Logf("after SIGTERM: exit %d, job 1 %s with %d of 2000 stored", code, st.Status, st.Progress.Stored)
	require.Equal(t, "REVOKED", st.Status)
	require.Less(t, st.Progress.Stored, 2000)
}
