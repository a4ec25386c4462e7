// Command natschaos is the chaos harness's command line: flags, exit codes
// and wiring, nothing else (README.md and natschaos --help).
//
// Exit codes: 0 every invariant held; 1 an invariant was violated; 2 bad
// usage or a bad scenario file (before any results directory is made); 3
// inconclusive (the harness could not run or drive load, the run was cut
// short, or tasks were still in flight) or a fault could not be healed; 130
// interrupted (SIGINT or SIGTERM) — every fault healed, or a second signal
// that forced the exit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line args and returns the exit code.
func run(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	err := root.ExecuteContext(withCommandLine(ctx, args))
	return exitCode(err)
}

// signalContext is canceled by the first SIGINT or SIGTERM, so that every
// fault is healed on the way out; a second one exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{}) // closed by stop: the command returned
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(os.Stderr, "natschaos: %s: healing every fault and stopping (Ctrl-C again to exit at once)\n", s)
			cancel()
		case <-stopped:
			return
		}
		// Not ctx.Done(): it is closed now, and the second signal must
		// still be heard while the heal runs.
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "natschaos: forced exit: toxics or a stopped NATS may remain; the next run against a remote toxiproxy removes natschaos- leftovers first")
			os.Exit(exitInterrupted)
		case <-stopped:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(stopped); cancel() }
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "natschaos",
		Short:         "Chaos harness for NATS JetStream work queues served to HTTP-polling workers",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       "-", // --version prints versionText
	}
	root.SetVersionTemplate(versionText())
	// A runnable root with its own argument check: an unknown command is a
	// usage error (exit 2) instead of cobra's plain error.
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			var names []string
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return usageError{fmt.Errorf("unknown command %q (commands: %s; see natschaos --help)", args[0], strings.Join(names, ", "))}
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath())}
	})
	root.AddCommand(newRunCmd(), newListCmd(), newCheckCmd(), newSUTCmd(), newVerifyCmd(),
		newValidateCmd(), newFaultsCmd(), newVersionCmd(), newReportCmd(), newSoakCmd())
	addCompletions(root)
	return root
}
