package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/faults"
)

func newFaultsCmd() *cobra.Command {
	return printCmd(&cobra.Command{
		Use:   "faults",
		Short: "Print the fault vocabulary of scenario files: name, family, link, attributes, needs, effects, what it does",
		Long: `Faults prints every fault a scenario's faults: or nemesis: may name, from the
faults' own definitions: its family (toxic: a Toxiproxy toxic on one link; proxy:
the link's proxy itself; http: in the worker-api reverse proxy; process: on a
process), the link it takes, its attributes, what it needs from the target it runs
against, its effects (what its start event records in the history, docs/history.md)
and what it does. docs/scenarios.md has the file format.`,
	}, printFaults)
}

// printFaults writes the table of every fault's definition to w.
func printFaults(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tFAMILY\tLINK\tATTRIBUTES\tNEEDS\tEFFECTS\tWHAT IT DOES")
	for _, d := range faults.All() {
		link := "any link (required)"
		switch d.Link {
		case faults.HTTPLink:
			link = faults.LinkWorkerAPI
		case faults.NoLink:
			link = "none"
		case faults.NATSLink:
			link = faults.LinkAPINATS + " or " + faults.LinkResultsNATS
		}
		attrs := strings.Join(d.Attrs, ", ")
		if attrs == "" {
			attrs = "-"
		}
		doc := d.Doc
		if d.Instant {
			doc += "; instant"
		}
		needs := make([]string, len(d.Needs))
		for i, n := range d.Needs {
			needs[i] = string(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Family, link, attrs,
			strings.Join(needs, ","), strings.Join(d.Effects.Names(), ","), doc)
	}
	return tw.Flush()
}
