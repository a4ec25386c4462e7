package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/protocol"
)

type runFlags struct {
	scenarios []string
	all       bool
	seed      int64
	out       string
	variant   string
	strict    bool
	timeScale float64
	toxiproxy string
	runID     string
	verbose   bool
	junit     string // --junit FILE
	json      bool   // --json: the report(s) as JSON on stdout, nothing else

	// external mode
	natsURLs         []string
	monitorURLs      []string
	apiURL           string
	apiToken         string
	natsUser         string
	natsPassword     string
	natsToken        string
	natsCreds        string
	jobID            int64
	externalWorkers  bool
	observePublishes bool
	publishIntoJob   bool
	proxies          []string
	readyTimeout     time.Duration
}

// The environment variables credentials come from when no flag gives them.
const (
	envAPIToken     = tokenEnv // NATSCHAOS_API_TOKEN, shared with natschaos sut
	envNATSUser     = "NATSCHAOS_NATS_USER"
	envNATSPassword = "NATSCHAOS_NATS_PASSWORD"
	envNATSToken    = "NATSCHAOS_NATS_TOKEN"
	envNATSCreds    = "NATSCHAOS_NATS_CREDS"
)

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [--scenario NAME|FILE.yaml]... [--all] [--nats-url URL --api-url URL ...]",
		Short: "Run scenarios against the embedded stack (or an external one) and check every invariant",
		Long: `Run starts NATS with JetStream, Toxiproxy, the reference API and its workers on
127.0.0.1 with random ports, plays each scenario's faults, records the history and
checks every invariant. With no --scenario and no --all it runs the default suite
(` + strings.Join(chaos.DefaultSuite, ", ") + `).

External mode (--nats-url and --api-url): the harness puts its proxies in front of a
NATS and an API that already run, prints the addresses to point the API's NATS URL
and the workers' API URL at, waits until traffic flows through them, creates a job
(or drives --job-id), publishes its tasks (or records the API's own with
--observe-publishes), runs its built-in workers (unless --external-workers), reads
the stored results back from the API and checks every invariant. It touches only its
own job: its workers serve no other, it publishes into a --job-id only with
--publish-into-job, it cancels the job it created on every way out, and what its
observers see of other jobs is dropped and counted as foreign. See docs/external.md.
Credentials come from the flags or from $` + envAPIToken + `, $` + envNATSUser + `,
$` + envNATSPassword + `, $` + envNATSToken + `, $` + envNATSCreds + ` (prefer the
environment: flags show in ps); they are never printed nor written into results.

Results go to --out (default ./natschaos-results/<timestamp>), one folder per
scenario: report.json (with its provenance: versions, start time, seed, the command
line without secrets), report.html, history.jsonl, scenario.yaml (replays the run
exactly); index.html links every scenario's report.html; for several scenarios
also suite.json. --junit FILE writes JUnit XML for CI; --json prints the
report(s) on stdout. Tables go to stdout, messages to stderr, and so does the
progress (scenario n of N, elapsed, phase, active fault, tasks stored, checks
failed so far): redrawn in place on a terminal, a line per phase otherwise.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.scenarios, "scenario", "s", nil, "built-in scenario name or scenario file (repeatable)")
	fl.BoolVar(&f.all, "all", false, "run every built-in scenario")
	fl.Int64Var(&f.seed, "seed", 0, "seed of every random choice (default: the scenario's, else the clock)")
	fl.StringVarP(&f.out, "out", "o", "", "results directory (default ./natschaos-results/<timestamp>)")
	fl.StringVar(&f.variant, "variant", "", "run the reference API as this variant (see natschaos sut --help)")
	fl.BoolVar(&f.strict, "strict", false, "a check that cannot decide fails the run")
	fl.Float64Var(&f.timeScale, "time-scale", 1, "stretch every duration of the scenarios (faults, timeouts, ack_wait, bounds) by this factor, e.g. 150 for a 300 s ack_wait (> 0, ≤ 1000)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log what the harness does")
	fl.StringVar(&f.junit, "junit", "", "also write the results as JUnit XML to this file (a testsuite per scenario, a testcase per check)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON on stdout (several scenarios: {verdict, reports}) and everything else on stderr")

	f.addTargetFlags(cmd, "run", "the API, its consumer and traffic on the proxies")
	fl.Int64Var(&f.jobID, "job-id", 0, "external mode: drive this existing job instead of creating one")
	fl.BoolVar(&f.externalWorkers, "external-workers", false, "external mode: the platform's own workers poll through the worker-api proxy; run no built-in worker")
	fl.BoolVar(&f.observePublishes, "observe-publishes", false, "external mode: record the API's own task publishes instead of publishing")
	fl.BoolVar(&f.publishIntoJob, "publish-into-job", false, "external mode: with --job-id, publish made-up tasks into that job, which the run did not create")
	return cmd
}

// addTargetFlags registers the flags that say where the target runs and
// how to reach it — --toxiproxy, --run-id and external mode's — for run
// and soak alike: unit names the command's run ("run", "soak") and ready
// what --ready-timeout waits for.
func (f *runFlags) addTargetFlags(cmd *cobra.Command, unit, ready string) {
	fl := cmd.Flags()
	fl.StringVar(&f.toxiproxy, "toxiproxy", "", "drive a remote toxiproxy-server (http://host:8474) instead of the embedded one")
	fl.StringVar(&f.runID, "run-id", "", "with --toxiproxy: the run id in the names of this "+unit+"'s proxies (natschaos-<run id>-<link>); only those are created, healed and deleted (default: derived from the target, so that the next "+unit+" against it removes what a killed one left)")
	fl.StringArrayVar(&f.natsURLs, "nats-url", nil, "external mode: the NATS to put proxies in front of (repeat, or separate with commas, once per cluster node)")
	fl.StringArrayVar(&f.monitorURLs, "nats-monitor-url", nil, "external mode: NATS monitoring URL per node, in --nats-url order (default http://<nats host>:8222)")
	fl.StringVar(&f.apiURL, "api-url", "", "external mode: the API (http://host:port; a trailing /api/v2 is fine)")
	fl.StringVar(&f.apiToken, "api-token", "", "external mode: API token (default $"+envAPIToken+"; never printed)")
	fl.StringVar(&f.natsUser, "nats-user", "", "external mode: NATS user of the harness's own connections (default $"+envNATSUser+")")
	fl.StringVar(&f.natsPassword, "nats-password", "", "external mode: NATS password (default $"+envNATSPassword+"; never printed)")
	fl.StringVar(&f.natsToken, "nats-token", "", "external mode: NATS token (default $"+envNATSToken+"; never printed)")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "external mode: NATS creds file (default $"+envNATSCreds+")")
	fl.StringArrayVar(&f.proxies, "proxy", nil, "external mode: LINK=ADDR fixes a proxy's listen address (api-nats, results-nats, worker-api; repeatable)")
	fl.DurationVar(&f.readyTimeout, "ready-timeout", 60*time.Second, "external mode: how long to wait for "+ready)
}

// remoteProxies are the proxies of --toxiproxy's server named by runID, or
// nil (the embedded Toxiproxy) without --toxiproxy.
func (f runFlags) remoteProxies(ctx context.Context, runID string) (faults.Proxies, error) {
	if f.toxiproxy == "" {
		return nil, nil
	}
	remote, err := faults.NewRemote(ctx, f.toxiproxy, runID)
	if err != nil {
		return nil, errors.New(harness.Redact(fmt.Sprintf("--toxiproxy %s: %v", harness.StripUser(f.toxiproxy), err), f.toxiproxy))
	}
	return remote, nil
}

// external reads the external-mode flags and the environment (and checks
// --toxiproxy's URL, which either mode may have); nil without --nats-url
// and --api-url.
func (f runFlags) external(stdout, stderr io.Writer) (*chaos.External, error) {
	if f.toxiproxy != "" {
		if err := harness.CheckURL("--toxiproxy", f.toxiproxy, "http", "https"); err != nil {
			return nil, usageError{err}
		}
	}
	inExternal := len(f.natsURLs) > 0 || f.apiURL != ""
	if !inExternal {
		for name, set := range map[string]bool{
			"--nats-monitor-url": len(f.monitorURLs) > 0, "--job-id": f.jobID != 0, "--external-workers": f.externalWorkers,
			"--observe-publishes": f.observePublishes, "--publish-into-job": f.publishIntoJob, "--proxy": len(f.proxies) > 0, "--api-token": f.apiToken != "",
			"--nats-user": f.natsUser != "", "--nats-password": f.natsPassword != "", "--nats-token": f.natsToken != "", "--nats-creds": f.natsCreds != "",
		} {
			if set {
				return nil, usageError{fmt.Errorf("%s is for external mode: give --nats-url and --api-url too", name)}
			}
		}
		return nil, nil
	}
	if len(f.natsURLs) == 0 || f.apiURL == "" {
		return nil, usageError{errors.New("external mode needs both --nats-url and --api-url")}
	}
	if f.variant != "" {
		return nil, usageError{errors.New("--variant selects the embedded reference API: in external mode run `natschaos sut --variant` yourself")}
	}
	env := func(flag, name string) string {
		if flag != "" {
			return flag
		}
		return os.Getenv(name)
	}
	x := &chaos.External{
		APIURL:   f.apiURL,
		APIToken: env(f.apiToken, envAPIToken),
		NATS: harness.NATSAuth{
			User: env(f.natsUser, envNATSUser), Password: env(f.natsPassword, envNATSPassword),
			Token: env(f.natsToken, envNATSToken), CredsFile: env(f.natsCreds, envNATSCreds),
		},
		JobID: f.jobID, PublishIntoJob: f.publishIntoJob, ExternalWorkers: f.externalWorkers, ObservePublishes: f.observePublishes,
		ReadyTimeout: f.readyTimeout, Out: stdout, Err: stderr, Listen: map[string]string{},
	}
	split := func(vals []string) []string {
		var out []string
		for _, v := range vals {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	x.NATSURLs, x.MonitorURLs = split(f.natsURLs), split(f.monitorURLs)
	for _, p := range f.proxies {
		link, addr, ok := strings.Cut(p, "=")
		if !ok || link == "" || addr == "" {
			return nil, usageError{fmt.Errorf("--proxy %q: want LINK=HOST:PORT", p)}
		}
		if _, dup := x.Listen[link]; dup {
			return nil, usageError{fmt.Errorf("--proxy %s given twice", link)}
		}
		x.Listen[link] = addr
	}
	if err := x.Check(); err != nil {
		return nil, usageError{err}
	}
	return x, nil
}

// proxyRunID is the run id of the run's proxies on a remote
// toxiproxy-server: --run-id, or one derived from the target — the API and
// NATS URLs without their credentials in external mode, the host name for
// the embedded stack — so that it is stable from run to run against the
// same target and the next run removes what a killed one left.
func (f runFlags) proxyRunID(x *chaos.External) (string, error) {
	if f.runID != "" {
		if err := faults.ValidRunID(f.runID); err != nil {
			return "", usageError{fmt.Errorf("--run-id: %w", err)}
		}
		return f.runID, nil
	}
	h := sha256.New()
	if x != nil {
		for _, raw := range append([]string{x.APIURL}, x.NATSURLs...) {
			fmt.Fprintf(h, "%s\n", harness.StripUser(raw))
		}
	} else {
		host, _ := os.Hostname()
		fmt.Fprintf(h, "embedded\n%s\n", host)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func logger(verbose bool, w io.Writer) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func runRun(cmd *cobra.Command, f runFlags) error {
	ctx := cmd.Context()
	stdout := cmd.OutOrStdout()
	stderr, terminal := progressTo(cmd.ErrOrStderr(), f.verbose)
	if err := chaos.ValidTimeScale(f.timeScale); err != nil {
		return usageError{fmt.Errorf("--time-scale: %w", err)}
	}
	if f.variant != "" && !protocol.KnownVariant(f.variant) {
		return usageError{fmt.Errorf("--variant %q: unknown (known: %s)", f.variant, strings.Join(protocol.VariantNames(), ", "))}
	}
	external, err := f.external(stderr, stderr)
	if err != nil {
		return err
	}
	var scenarios []chaos.Scenario
	switch {
	case f.all && len(f.scenarios) > 0:
		return usageError{errors.New("--all and --scenario exclude each other")}
	case f.all:
		scenarios = chaos.Catalog()
	case len(f.scenarios) == 0:
		fmt.Fprintf(stderr, "natschaos: no --scenario given: running the default suite (%s), about 40 s\n", strings.Join(chaos.DefaultSuite, ", "))
		for _, name := range chaos.DefaultSuite {
			sc, _ := chaos.Lookup(name)
			scenarios = append(scenarios, sc)
		}
	default:
		for _, arg := range f.scenarios {
			sc, err := chaos.FindScenario(arg)
			if err != nil {
				return err
			}
			scenarios = append(scenarios, sc)
		}
	}
	if external != nil {
		for _, sc := range scenarios {
			if sc.SUT.Variant != "" && sc.SUT.Variant != protocol.VariantGood {
				fmt.Fprintf(stderr, "natschaos: note: scenario %s names variant %s; in external mode the API under test is whatever runs at --api-url\n", sc.Name, sc.SUT.Variant)
			}
		}
	}
	runID, err := f.proxyRunID(external)
	if err != nil {
		return err
	}
	if f.toxiproxy != "" {
		fmt.Fprintf(stderr, "natschaos: this run's proxies on %s are named %s (run id %s; --run-id to change it): only they are created, healed and deleted\n",
			harness.StripUser(f.toxiproxy), faults.ProxyName(runID, "<link>"), runID)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("natschaos-results", time.Now().Format("20060102-150405"))
	}
	log := logger(f.verbose, stderr)

	table := stdout // the human tables; stderr when stdout carries JSON
	if f.json {
		table = stderr
	}
	var reports []*report.Report
	var dirs []string
	var harnessErr, healErr error
	seen := map[string]int{}
	violated := 0 // checks failed in the scenarios so far
	for i, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		dir := sc.Name
		if seen[sc.Name]++; seen[sc.Name] > 1 {
			dir = fmt.Sprintf("%s-%d", sc.Name, seen[sc.Name])
		}
		opts := chaos.RunOptions{Out: filepath.Join(out, dir), Seed: f.seed, Variant: f.variant, Strict: f.strict, TimeScale: f.timeScale, Logger: log, External: external,
			CommandLine: commandLine(ctx), Progress: stderr, Terminal: terminal,
			ProgressLabel: fmt.Sprintf("scenario %d of %d (%d checks failed so far):", i+1, len(scenarios), violated)}
		if opts.Proxies, err = f.remoteProxies(ctx, runID); err != nil {
			return err
		}
		rep, err := chaos.Run(ctx, sc, opts)
		switch {
		case rep != nil:
			if serr := rep.Summary(table); serr != nil {
				return serr
			}
			fmt.Fprintf(table, "  results: %s\n\n", opts.Out)
			reports, dirs = append(reports, rep), append(dirs, dir)
			violated += len(rep.Failed())
		case chaos.IsUsage(err):
			return err
		case err != nil:
			fmt.Fprintf(stderr, "natschaos: %s: %v\n", sc.Name, err)
			harnessErr = errors.Join(harnessErr, err)
			if herr := (*faults.HealError)(nil); errors.As(err, &herr) {
				healErr = errors.Join(healErr, herr)
			}
			reports = append(reports, &report.Report{Scenario: sc.Name, Variant: sc.SUT.Variant, Seed: sc.Seed, Verdict: report.Inconclusive, HarnessError: err.Error()})
			dirs = append(dirs, "")
		}
	}
	if len(reports) > 1 {
		if _, err := report.Suite(table, reports); err != nil {
			return err
		}
	}
	if _, err := chaos.WriteIndex(out); err != nil {
		fmt.Fprintf(stderr, "natschaos: index.html: %v\n", err)
	}
	if err := f.outputs(stdout, out, reports, dirs); err != nil {
		return err
	}
	switch {
	case healErr != nil:
		// Exit 3 whether interrupted or not: something may still be faulty.
		return fmt.Errorf("a fault could not be healed: toxics, disabled proxies or HTTP faults may remain (results in %s): %w", out, healErr)
	case ctx.Err() != nil:
		return interruptedError{fmt.Errorf("interrupted: every fault was healed; partial results in %s", out)}
	}
	if harnessErr != nil {
		return fmt.Errorf("the harness could not run every scenario (results in %s)", out)
	}
	for _, r := range reports {
		if r.Verdict == report.Fail {
			return fmt.Errorf("%w (results in %s)", chaos.ErrViolated, out)
		}
	}
	for _, r := range reports {
		if r.Verdict == report.Inconclusive {
			return fmt.Errorf("%w: %s: %s (results in %s)", chaos.ErrInconclusive, r.Scenario, r.Why(), out)
		}
	}
	return nil
}
