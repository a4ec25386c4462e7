package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/protocol"
)

func newValidateCmd() *cobra.Command {
	var (
		seed      int64
		variant   string
		timeScale float64
	)
	cmd := &cobra.Command{
		Use:   "validate FILE.yaml|NAME [--seed N] [--variant NAME] [--time-scale F]",
		Short: "Resolve a scenario and print its settings and fault schedule, without starting anything",
		Long: `Validate reads a scenario file (or a built-in scenario by name), applies the
defaults, the seed (--seed, else the scenario's, else the clock), the variant and
the time scale exactly as natschaos run would, draws its nemesis, and prints the
resolved settings and every fault window: when it starts (from the start of the
chaos phase), how long it holds, its link, its fault and attributes. Nothing is
started. Exit 0 when the scenario is valid, 2 with the file, line and field of
the first error otherwise.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeScenario(nil, nil, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := chaos.ValidTimeScale(timeScale); err != nil {
				return usageError{fmt.Errorf("--time-scale: %w", err)}
			}
			if variant != "" && !protocol.KnownVariant(variant) {
				return usageError{fmt.Errorf("--variant %q: unknown (known: %s)", variant, strings.Join(protocol.VariantNames(), ", "))}
			}
			sc, err := chaos.FindScenario(args[0])
			if err != nil {
				return err
			}
			sc, _, err = chaos.Prepare(sc, chaos.RunOptions{Seed: seed, Variant: variant, TimeScale: timeScale})
			if err != nil {
				return err
			}
			return printResolved(cmd, sc)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&seed, "seed", 0, "seed of every random choice (default: the scenario's, else the clock)")
	fl.StringVar(&variant, "variant", "", "the reference API's variant")
	fl.Float64Var(&timeScale, "time-scale", 1, "stretch every duration of the scenario by this factor")
	_ = cmd.RegisterFlagCompletionFunc("variant", completeVariant)
	return cmd
}

// printResolved prints a resolved scenario: its settings as a scenario
// file writes them (without the faults), then its fault windows.
func printResolved(cmd *cobra.Command, sc chaos.Scenario) error {
	w := cmd.OutOrStdout()
	windows := sc.Windows()
	settings := sc
	settings.Faults = nil
	fmt.Fprintf(w, "# scenario %s: valid; seed %d, %d fault windows\n", sc.Name, sc.Seed, len(windows))
	if err := chaos.WriteScenario(w, settings); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nschedule (offsets from the start of the chaos phase: after %s of warmup, for %s; then heal, drain, end):\n", sc.Warmup, sc.Chaos)
	if len(windows) == 0 {
		_, err := fmt.Fprintln(w, "  no faults")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tFOR\tLINK\tFAULT\tATTRIBUTES")
	for _, win := range windows {
		hold := (win.End - win.Start).String()
		if d, ok := faults.Lookup(win.Name); ok && d.Instant {
			hold = "instant"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", win.ID, win.Start, hold, orDash(win.Link), win.Name, attrsText(win.Fault.Attrs))
	}
	return tw.Flush()
}

func attrsText(a faults.Attrs) string {
	if len(a) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		parts = append(parts, k+"="+a[k])
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
