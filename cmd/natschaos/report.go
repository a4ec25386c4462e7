package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
)

func newReportCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "report RESULTS_DIR|HISTORY.jsonl",
		Short: "Render report.html again, offline: every scenario of a results directory and its index, or one history",
		Long: `Report renders the HTML reports again from what a run left on disk; it needs
no network and starts nothing.

  natschaos report RESULTS_DIR    report.html beside every report.json in it (a run's
                                  or a verify's results directory, or one scenario's
                                  folder), from that report.json and the history
                                  beside it, then RESULTS_DIR/index.html; a soak's
                                  results directory: its index.html, from report.json
  natschaos report HISTORY.jsonl  judges the history again (the tolerances from the
                                  scenario.yaml beside it, as natschaos check does)
                                  and writes report.html beside it

report.html is one self-contained file: the timeline (fault windows over the
/tasks calls by latency and status, throughput, connections, ack-pending,
stalls), the checks, and the trace of every offending task.
Exit 0 when the files were written, 2 for a path that is not a results
directory or a history (or a malformed history line).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{fmt.Errorf("%s: %w (a results directory or a history file)", cmd.CommandPath(), err)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			st, err := os.Stat(path)
			if err != nil {
				return usageError{fmt.Errorf("report: %w", err)}
			}
			if st.IsDir() {
				n, err := chaos.Render(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "natschaos report: %d reports rendered in %s\n", n, path)
				if fileExists(filepath.Join(path, chaos.IndexHTML)) {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", filepath.Join(path, chaos.IndexHTML))
				}
				return nil
			}
			out, err := renderHistory(path, strict)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "natschaos report: %s\n", out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "a check that cannot decide fails (for a history)")
	return cmd
}

// renderHistory judges the history at path and writes report.html beside it.
func renderHistory(path string, strict bool) (string, error) {
	rep, _, err := judgeHistory(path, "", report.Meta{Scenario: "(history " + filepath.Base(path) + ")", Strict: strict})
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(path), chaos.ReportHTML)
	if err := report.WriteHTML(out, rep, path); err != nil {
		return "", err
	}
	return out, nil
}
