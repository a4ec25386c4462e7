package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
)

type runFlags struct {
	scenarios []string
	all       bool
	seed      int64
	out       string
	variant   string
	strict    bool
	toxiproxy string
	verbose   bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [--scenario NAME|FILE.yaml]... [--all]",
		Short: "Run scenarios against the embedded stack and check every invariant",
		Long: `Run starts NATS with JetStream, Toxiproxy, the reference API and its workers on
127.0.0.1 with random ports, plays each scenario's faults, records the history and
checks every invariant. With no --scenario and no --all it runs the default suite
(` + strings.Join(chaos.DefaultSuite, ", ") + `).

Results go to --out (default ./natschaos-results/<timestamp>), one folder per
scenario: report.json, history.jsonl, scenario.yaml (replays the run exactly).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.scenarios, "scenario", "s", nil, "built-in scenario name or scenario file (repeatable)")
	fl.BoolVar(&f.all, "all", false, "run every built-in scenario")
	fl.Int64Var(&f.seed, "seed", 0, "seed of every random choice (default: the scenario's, else the clock)")
	fl.StringVarP(&f.out, "out", "o", "", "results directory (default ./natschaos-results/<timestamp>)")
	fl.StringVar(&f.variant, "variant", "", "run the reference API as this variant (see natschaos sut --help)")
	fl.BoolVar(&f.strict, "strict", false, "a check that cannot decide fails the run")
	fl.StringVar(&f.toxiproxy, "toxiproxy", "", "drive a remote toxiproxy-server (http://host:8474) instead of the embedded one")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log what the harness does")
	return cmd
}

func logger(verbose bool, w io.Writer) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func runRun(cmd *cobra.Command, f runFlags) error {
	ctx := cmd.Context()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.variant != "" && !chaos.KnownVariant(f.variant) {
		return usageError{fmt.Errorf("--variant %q: unknown (known: %s)", f.variant, strings.Join(chaos.Variants, ", "))}
	}
	var scenarios []chaos.Scenario
	switch {
	case f.all && len(f.scenarios) > 0:
		return usageError{errors.New("--all and --scenario exclude each other")}
	case f.all:
		scenarios = chaos.Catalog()
	case len(f.scenarios) == 0:
		fmt.Fprintf(stdout, "natschaos: no --scenario given: running the default suite (%s), about a minute\n", strings.Join(chaos.DefaultSuite, ", "))
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
	out := f.out
	if out == "" {
		out = filepath.Join("natschaos-results", time.Now().Format("20060102-150405"))
	}
	log := logger(f.verbose, stderr)

	var reports []*report.Report
	var harnessErr error
	seen := map[string]int{}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		dir := sc.Name
		if seen[sc.Name]++; seen[sc.Name] > 1 {
			dir = fmt.Sprintf("%s-%d", sc.Name, seen[sc.Name])
		}
		opts := chaos.RunOptions{Out: filepath.Join(out, dir), Seed: f.seed, Variant: f.variant, Strict: f.strict, Logger: log}
		if f.toxiproxy != "" {
			remote, err := faults.NewRemote(ctx, f.toxiproxy)
			if err != nil {
				return fmt.Errorf("--toxiproxy %s: %w", f.toxiproxy, err)
			}
			opts.Proxies = remote
		}
		rep, err := chaos.Run(ctx, sc, opts)
		switch {
		case rep != nil:
			if serr := rep.Summary(stdout); serr != nil {
				return serr
			}
			fmt.Fprintf(stdout, "  results: %s\n\n", opts.Out)
			reports = append(reports, rep)
		case chaos.IsUsage(err):
			return err
		case err != nil:
			fmt.Fprintf(stderr, "natschaos: %s: %v\n", sc.Name, err)
			harnessErr = errors.Join(harnessErr, err)
			reports = append(reports, &report.Report{Scenario: sc.Name, Variant: sc.SUT.Variant, Seed: sc.Seed, Verdict: report.Fail, HarnessError: err.Error()})
		}
	}
	if len(reports) > 1 {
		if _, err := report.Suite(stdout, reports); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: every fault was healed; partial results in %s", out)
	}
	if harnessErr != nil {
		return fmt.Errorf("the harness could not run every scenario (results in %s)", out)
	}
	for _, r := range reports {
		if r.Verdict != report.Pass {
			return fmt.Errorf("%w (results in %s)", chaos.ErrViolated, out)
		}
	}
	return nil
}
