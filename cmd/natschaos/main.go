// Command natschaos is the chaos harness's command line: flags, exit codes
// and wiring, nothing else (DESIGN.md "Command line contract").
//
// Exit codes: 0 every invariant held; 1 an invariant was violated; 2 bad
// usage or a bad scenario file; 3 inconclusive (the harness could not run or
// drive load, the run was cut short, or tasks were still in flight).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
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
// fault is healed on the way out; a second Ctrl-C exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(os.Stderr, "natschaos: %s: healing every fault and stopping (Ctrl-C again to exit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "natschaos: forced exit: toxics or a stopped NATS may remain; the next run against a remote toxiproxy removes natschaos- leftovers first")
			os.Exit(3)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, chaos.ErrViolated):
		return 1
	case errors.As(err, &usage), chaos.IsUsage(err):
		fmt.Fprintln(os.Stderr, "natschaos:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "natschaos:", err)
		return 3
	}
}

// usageError is a bad flag or argument: exit 2.
type usageError struct{ error }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "natschaos",
		Short:         "Chaos harness for NATS JetStream work queues served to HTTP-polling workers",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       "-", // --version prints versionText
	}
	root.SetVersionTemplate(versionText())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath())}
	})
	root.AddCommand(newRunCmd(), newListCmd(), newCheckCmd(), newSUTCmd(), newVerifyCmd(),
		newValidateCmd(), newFaultsCmd(), newVersionCmd(), newReportCmd(), newSoakCmd())
	addCompletions(root)
	return root
}
