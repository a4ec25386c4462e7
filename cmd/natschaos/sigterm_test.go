package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/internal/tcptest"
)

// The heal guarantee of issue 4, against real processes: a toxiproxy-server
// built from github.com/Shopify/toxiproxy/v2/cmd/server and the natschaos
// binary, both built into a temporary directory by this test.
// An interrupted run exits exitInterrupted (130) after healing every fault.

// childWait bounds how long a child natschaos may take to stop after SIGTERM.
const childWait = 30 * time.Second

// testRunID is the --run-id of the runs of these tests: their proxies are
// named natschaos-sigterm-<link>.
const testRunID = "sigterm"

func TestSIGTERMHealsRemoteToxics(t *testing.T) {
	bin, tp := processTest(t)

	// A run interrupted by SIGTERM (or Ctrl-C) in the middle of a 20 s
	// latency fault on api-nats leaves no toxic behind and exits 130.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			child := startRun(t, bin.natschaos, tp.url, "testdata/long-latency.yaml", out)
			waitToxic(t, tp.client, faults.ProxyName(testRunID, faults.LinkAPINATS), child)
			require.NoError(t, child.cmd.Process.Signal(sig))
			code := child.wait(t, childWait)
			require.Equal(t, exitInterrupted, code, "exit code of an interrupted run\n%s", child.output())
			require.Contains(t, child.output(), "healing every fault")
			require.Contains(t, child.output(), "interrupted: every fault was healed")
			requireNoToxics(t, tp.client)

			// The history kept on disk says so too: the fault window was closed.
			events, _, err := history.Load(filepath.Join(out, "long-latency", "history.jsonl"))
			require.NoError(t, err)
			var phases []string
			for _, e := range events {
				if e.Kind == history.KindFault && e.Link == faults.LinkAPINATS {
					phases = append(phases, e.Phase)
				}
			}
			require.Equal(t, []string{"start", "end"}, phases, "fault events of the interrupted run")
		})
	}
}

// A second signal exits at once, even while the heal of the first hangs
// (here on a toxiproxy-server stopped with SIGSTOP), with the code of an
// interrupted run and a message saying what may remain.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin, tp := processTest(t)
	child := startRun(t, bin.natschaos, tp.url, "testdata/long-latency.yaml", t.TempDir())
	waitToxic(t, tp.client, faults.ProxyName(testRunID, faults.LinkAPINATS), child)
	require.NoError(t, tp.proc.Signal(syscall.SIGSTOP)) // every heal now hangs
	t.Cleanup(func() { _ = tp.proc.Signal(syscall.SIGCONT) })

	require.NoError(t, child.cmd.Process.Signal(syscall.SIGTERM))
	child.waitOutput(t, 10*time.Second, "healing every fault") // the first signal is handled, and natschaos still runs
	require.NoError(t, child.cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	code := child.wait(t, 5*time.Second)
	t.Logf("exited %s after the second signal", time.Since(start).Round(time.Millisecond))
	require.Equal(t, exitInterrupted, code, "exit code of a forced exit\n%s", child.output())
	require.Contains(t, child.output(), "forced exit: toxics or a stopped NATS may remain")
	require.NotContains(t, child.output(), "every fault was healed")
}

// A heal that fails (the toxiproxy-server is gone) is printed and exits 3,
// and the run never claims that every fault was healed.
func TestFailedHealExits3(t *testing.T) {
	bin, tp := processTest(t)
	child := startRun(t, bin.natschaos, tp.url, "testdata/long-latency.yaml", t.TempDir())
	waitToxic(t, tp.client, faults.ProxyName(testRunID, faults.LinkAPINATS), child)
	require.NoError(t, tp.proc.Kill()) // the heal cannot reach it
	require.NoError(t, child.cmd.Process.Signal(syscall.SIGTERM))
	code := child.wait(t, childWait)
	require.Equal(t, 3, code, "exit code of a failed heal\n%s", child.output())
	require.Contains(t, child.output(), "a fault could not be healed")
	require.Contains(t, child.output(), "heal f") // the window's heal error, naming it
	require.NotContains(t, child.output(), "every fault was healed")
}

func TestRunAfterSIGKILLRemovesLeftovers(t *testing.T) {
	bin, tp := processTest(t)

	// Somebody else's proxy, with a toxic: natschaos must never touch it.
	foreign, err := tp.client.CreateProxy("someone-else", "127.0.0.1:0", "127.0.0.1:1")
	require.NoError(t, err)
	_, err = foreign.AddToxic("theirs", "latency", "downstream", 1, toxiclient.Attributes{"latency": 1000})
	require.NoError(t, err)
	// Another run's proxy (another run id), with a toxic: never touched.
	other, err := tp.client.CreateProxy(faults.ProxyName("other", faults.LinkAPINATS), "127.0.0.1:0", "127.0.0.1:1")
	require.NoError(t, err)
	_, err = other.AddToxic("other-run", "latency", "downstream", 1, toxiclient.Attributes{"latency": 1000})
	require.NoError(t, err)
	// A proxy of this run id no run of the embedded stack creates, left
	// disabled with a toxic: only the clean-up of stale proxies heals it.
	stale, err := tp.client.CreateProxy(faults.ProxyName(testRunID, faults.RouteLink(1)), "127.0.0.1:0", "127.0.0.1:1")
	require.NoError(t, err)
	_, err = stale.AddToxic("stale", "latency", "downstream", 1, toxiclient.Attributes{"latency": 1000})
	require.NoError(t, err)
	require.NoError(t, stale.Disable())

	// A run killed with SIGKILL during its fault cannot heal: the toxic stays.
	child := startRun(t, bin.natschaos, tp.url, "testdata/long-latency.yaml", t.TempDir())
	waitToxic(t, tp.client, faults.ProxyName(testRunID, faults.LinkAPINATS), child)
	require.NoError(t, child.cmd.Process.Kill())
	child.wait(t, childWait)
	left, err := tp.client.Proxy(faults.ProxyName(testRunID, faults.LinkAPINATS))
	require.NoError(t, err)
	require.NotEmpty(t, left.ActiveToxics, "the killed run's toxic should still be there")

	// The next run starts by removing what the killed one left.
	next := startRun(t, bin.natschaos, tp.url, "testdata/tiny.yaml", t.TempDir())
	require.Equal(t, 0, next.wait(t, 2*time.Minute), "a healthy run after a killed one\n%s", next.output())
	requireNoToxics(t, tp.client)

	all, err := tp.client.Proxies()
	require.NoError(t, err)
	require.Contains(t, all, faults.ProxyName(testRunID, faults.RouteLink(1)), "stale proxies are healed, not deleted")
	require.True(t, all[faults.ProxyName(testRunID, faults.RouteLink(1))].Enabled, "the stale proxy is enabled again")
	require.Len(t, all[faults.ProxyName("other", faults.LinkAPINATS)].ActiveToxics, 1, "another run id's proxy is never touched")
	require.Contains(t, all, "someone-else")
	require.Len(t, all["someone-else"].ActiveToxics, 1, "a proxy without the natschaos- prefix is never touched")
}

type tools struct{ natschaos, toxiproxy string }

// processTest skips under -short; otherwise it builds toxiproxy-server and
// natschaos and starts the toxiproxy-server, for a test that runs them as
// processes (about 15 s).
func processTest(t *testing.T) (tools, toxiproxyServer) {
	t.Helper()
	slowtest.Skip(t, "builds toxiproxy-server and natschaos and runs them as processes")
	bin := buildTools(t)
	return bin, startToxiproxy(t, bin.toxiproxy)
}

var (
	buildOnce sync.Once
	buildDir  string
	built     tools
	buildErr  error
)

// buildTools builds natschaos and toxiproxy-server once per test binary,
// into a directory that TestMain removes.
func buildTools(t *testing.T) tools {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build toxiproxy-server and natschaos")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "natschaos-sigterm-"); buildErr != nil {
			return
		}
		built = tools{natschaos: filepath.Join(buildDir, "natschaos"), toxiproxy: filepath.Join(buildDir, "toxiproxy-server")}
		for _, b := range []struct{ out, pkg string }{
			{built.natschaos, "."},
			{built.toxiproxy, "github.com/Shopify/toxiproxy/v2/cmd/server"},
		} {
			cmd := exec.Command(goBin, "build", "-o", b.out, b.pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return built
}

// TestMain removes the binaries buildTools built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

type toxiproxyServer struct {
	url    string
	client *toxiclient.Client
	proc   *os.Process
}

// startToxiproxy runs toxiproxy-server on 127.0.0.1 with a free port and
// waits until its API answers; it is killed when the test ends.
func startToxiproxy(t *testing.T, bin string) toxiproxyServer {
	t.Helper()
	port := freePort(t)
	proc := startChild(t, exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port)))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := toxiclient.NewClient(url)
	polltest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if proc.exited() {
			return errors.New("toxiproxy-server exited: " + proc.output())
		}
		_, err := c.Version()
		return err
	})
	return toxiproxyServer{url: url, client: c, proc: proc.cmd.Process}
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(tcptest.FreeAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// child is a process of the test (natschaos, toxiproxy-server) and its
// output, stdout and stderr together.
type child struct {
	cmd  *exec.Cmd
	out  syncio.Buffer
	done chan struct{}
}

func (c *child) output() string { return c.out.String() }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// startChild starts cmd as a child; it is killed when the test ends, if
// still running.
func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	require.NoError(t, cmd.Start(), "start %s", cmd.Path)
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		if !c.exited() {
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// waitOutput waits up to limit for text in the child's output; the child
// exiting first fails the test at once.
func (c *child) waitOutput(t *testing.T, limit time.Duration, text string) {
	t.Helper()
	polltest.CheckFor(t, limit, 20*time.Millisecond, func() error {
		if c.exited() {
			t.Fatalf("%s exited before printing %q:\n%s", filepath.Base(c.cmd.Path), text, c.output())
		}
		if !strings.Contains(c.output(), text) {
			return fmt.Errorf("no %q in its output yet", text)
		}
		return nil
	})
}

// wait waits up to limit for the child to exit and returns its exit code
// (-1 when killed by a signal).
func (c *child) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(limit):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("natschaos did not exit within %s\n%s", limit, c.output())
	}
	return c.cmd.ProcessState.ExitCode()
}

// startRun starts `natschaos run` on scenario against the toxiproxy at url;
// it is killed when the test ends, if still running.
func startRun(t *testing.T, bin, url, scenario, out string) *child {
	t.Helper()
	return startChild(t, exec.Command(bin, "run", "--scenario", scenario, "--toxiproxy", url, "--run-id", testRunID, "--out", out))
}

// waitToxic waits until the proxy named name carries a toxic.
func waitToxic(t *testing.T, c *toxiclient.Client, name string, run *child) {
	t.Helper()
	polltest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if run.exited() {
			t.Fatalf("natschaos exited before its fault:\n%s", run.output())
		}
		p, err := c.Proxy(name)
		if err != nil {
			return err
		}
		if len(p.ActiveToxics) == 0 {
			return fmt.Errorf("no toxic on %s yet", name)
		}
		return nil
	})
}

// requireNoToxics fails if any proxy of testRunID on the server has a toxic
// or is disabled.
func requireNoToxics(t *testing.T, c *toxiclient.Client) {
	t.Helper()
	all, err := c.Proxies()
	require.NoError(t, err)
	for name, p := range all {
		if !strings.HasPrefix(name, faults.ProxyName(testRunID, "")) {
			continue
		}
		require.Empty(t, p.ActiveToxics, "toxics left on %s", name)
		require.True(t, p.Enabled, "%s left disabled", name)
	}
}
