package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/faults"
)

func newVerifyCmd() *cobra.Command {
	var (
		out      string
		parallel int
		short    bool
		seed     int64
		variants []string
		verbose  bool
		junit    string
	)
	cmd := &cobra.Command{
		Use:   "verify [--out DIR] [--parallel N] [--short]",
		Short: "Prove the checkers: every known-bad variant must be caught, the good one must pass",
		Long: `Verify runs the verification matrix: each known-bad variant of the reference API
on the scenario(s) meant to expose it, and the good variant on all of them, and
prints variant × scenario → "caught by <invariant>", "passed", "MISSED" (a bad
variant passed, or failed only on unrelated invariants) or "FALSE ALARM" (the
good variant failed). Cells run --parallel at a time, each its own embedded stack.

Exit 0 only when every bad variant is caught by an invariant that should catch it
and the good variant passes everything; 1 otherwise; 3 when a cell could not run.
Results go to --out (default ./natschaos-results/verify-<timestamp>), one folder
per cell: <variant>/<scenario>/{report.json,report.html,history.jsonl,scenario.yaml};
index.html: the matrix, each cell linking its report.html; verify.json: every
cell's variant, scenario, verdict, the invariants that caught it and the path of
its report. Each finished cell prints a line on stderr; on a terminal a line below
them shows the elapsed time, the cells done and each running cell's phase and
active fault.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdout := cmd.OutOrStdout()
			stderr, terminal := progressTo(cmd.ErrOrStderr(), verbose)
			if parallel < 0 {
				return usageError{fmt.Errorf("--parallel %d: must be ≥ 0", parallel)}
			}
			if out == "" {
				out = filepath.Join("natschaos-results", "verify-"+time.Now().Format("20060102-150405"))
			}
			opts := chaos.VerifyOptions{Out: out, Parallel: parallel, Short: short, Seed: seed, Variants: variants,
				Logger: logger(verbose, stderr), Progress: stderr, Terminal: terminal, CommandLine: commandLine(cmd.Context())}
			cells, err := chaos.Plan(opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "natschaos verify: %d cells\n", len(cells))
			m, err := chaos.Verify(cmd.Context(), opts)
			if err != nil && cmd.Context().Err() == nil {
				return err
			}
			if junit != "" {
				if err := m.JUnit().Write(junit); err != nil {
					return fmt.Errorf("--junit: %w", err)
				}
			}
			fmt.Fprintln(stderr)
			if err := m.Print(stdout); err != nil {
				return err
			}
			h := m.HarnessErrors()
			for _, c := range h {
				if herr := (*faults.HealError)(nil); errors.As(c.Err, &herr) {
					return fmt.Errorf("a fault could not be healed in %s/%s (results in %s): %w", c.Variant, c.Scenario, out, herr)
				}
			}
			if cmd.Context().Err() != nil {
				return interruptedError{fmt.Errorf("interrupted: every fault was healed; partial results in %s", out)}
			}
			if len(h) > 0 {
				return fmt.Errorf("the harness could not run %d cells (results in %s)", len(h), out)
			}
			if !m.OK() {
				return fmt.Errorf("%w: the verification matrix failed (results in %s)", chaos.ErrViolated, out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "out", "o", "", "results directory (default ./natschaos-results/verify-<timestamp>)")
	fl.IntVarP(&parallel, "parallel", "j", 0, "cells run at once (default: the number of CPUs, at most 4)")
	fl.BoolVar(&short, "short", false, "only the fast subset (reserve-one-by-one, swallow-timeout and the good variant on their scenarios)")
	fl.Int64Var(&seed, "seed", 0, "seed of every cell (default: each scenario's, else the clock)")
	fl.StringArrayVar(&variants, "variant", nil, "only this known-bad variant (repeatable)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log what the harness does")
	fl.StringVar(&junit, "junit", "", "also write the matrix as JUnit XML to this file (a testsuite per cell, variant/scenario; a testcase per check and one for the cell)")
	return cmd
}
