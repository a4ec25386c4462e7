package main

import (
	"fmt"
	"io"
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
	return printCmd(&cobra.Command{Use: "version", Short: "Print the versions of natschaos, Go and the embedded nats-server"},
		func(w io.Writer) error {
			_, err := io.WriteString(w, versionText())
			return err
		})
}
