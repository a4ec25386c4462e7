package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
)

func newCheckCmd() *cobra.Command {
	var strict, asJSON bool
	var scenarioFile string
	cmd := &cobra.Command{
		Use:   "check HISTORY.jsonl",
		Short: "Re-run every checker on a saved history, offline; same table, same exit codes (0 pass, 1 fail, 3 inconclusive)",
		Long: `Check reads a history written by natschaos run (or by anything that follows the
documented format) and runs every checker on it. The tolerances come from the
scenario.yaml beside the history when there is one (or --scenario FILE).
A torn last line is skipped with a warning; any other malformed line is an error
naming its line number (exit 2). A history without its end phase (a killed run),
one whose no-loss cannot decide (tasks still in flight), or one whose harness
could not drive load is inconclusive: exit 3, with the reason.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				if err == nil {
					err = errors.New("is a directory")
				}
				return usageError{fmt.Errorf("history %s: %w", path, err)}
			}
			rep, results, err := judgeHistory(path, scenarioFile, report.Meta{Scenario: "(history " + path + ")", Strict: strict})
			if err != nil {
				return err
			}
			for _, w := range results.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "natschaos: warning:", w)
			}
			if asJSON {
				if err := rep.Summary(cmd.ErrOrStderr()); err != nil {
					return err
				}
				if err := printJSON(cmd.OutOrStdout(), []*report.Report{rep}); err != nil {
					return err
				}
			} else if err := rep.Summary(cmd.OutOrStdout()); err != nil {
				return err
			}
			return chaos.VerdictError("history "+path, rep)
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "a check that cannot decide fails")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON on stdout (the table goes to stderr): natschaos check h.jsonl --json | jq .verdict")
	cmd.Flags().StringVar(&scenarioFile, "scenario", "", "scenario file whose expect block sets the tolerances")
	return cmd
}

// judgeHistory runs every checker on the history at path, with the
// tolerances of scenarioFile, or else of the scenario.yaml beside the
// history when there is one; the scenario's name and story replace meta's.
// A malformed line is a usage error.
func judgeHistory(path, scenarioFile string, meta report.Meta) (*report.Report, check.Results, error) {
	var params check.Params
	if beside := filepath.Join(filepath.Dir(path), "scenario.yaml"); scenarioFile == "" && fileExists(beside) {
		scenarioFile = beside
	}
	if scenarioFile != "" {
		sc, err := chaos.LoadScenario(scenarioFile)
		if err != nil {
			return nil, check.Results{}, err
		}
		params = sc.Params()
		meta.Scenario, meta.Description, meta.Proves, meta.Seed, meta.Variant = sc.Name, sc.Description, sc.Proves, sc.Seed, sc.SUT.Variant
	}
	results, err := check.RunFile(path, params)
	var lineErr *history.LineError
	if errors.As(err, &lineErr) {
		return nil, results, usageError{err}
	}
	if err != nil {
		return nil, results, err
	}
	return report.New(meta, results), results, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
