package main

import (
	"fmt"
	"runtime"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos/report"
)

// versionText is what `natschaos --version` and `natschaos version` print:
// natschaos's own version (and VCS revision when the build recorded it),
// Go's, and the embedded nats-server's.
func versionText() string {
	v, rev, modified := report.Build()
	if rev != "" {
		v += " (" + rev
		if modified {
			v += ", modified"
		}
		v += ")"
	}
	return fmt.Sprintf("natschaos %s\ngo %s\nnats-server %s (embedded)\n", v, runtime.Version(), server.VERSION)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of natschaos, Go and the embedded nats-server",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionText())
			return err
		},
	}
}
