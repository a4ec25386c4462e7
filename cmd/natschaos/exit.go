package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
)

// The exit codes (the package doc lists them), all decided here: exitCode maps
// every command's error onto them.
const (
	exitOK       = 0 // every invariant held
	exitViolated = 1 // an invariant was violated
	exitUsage    = 2 // bad usage or a bad scenario file, before any results directory is made
	// exitInconclusive: the harness could not run or drive load, the run
	// was cut short, tasks were still in flight, or a fault could not be
	// healed.
	exitInconclusive = 3
	// exitInterrupted is the exit code of a run stopped by SIGINT or
	// SIGTERM, 128+SIGINT as shells report it. A second signal forces the
	// exit with the same code: the user asked to stop, and the message
	// says what may remain.
	exitInterrupted = 130
)

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var usage usageError
	var intr interruptedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &intr):
		fmt.Fprintln(os.Stderr, "natschaos:", err)
		return exitInterrupted
	case errors.Is(err, chaos.ErrViolated):
		return exitViolated
	case errors.As(err, &usage), chaos.IsUsage(err):
		fmt.Fprintln(os.Stderr, "natschaos:", err)
		return exitUsage
	default:
		fmt.Fprintln(os.Stderr, "natschaos:", err)
		return exitInconclusive
	}
}

// usageError is a bad flag or argument: exit 2.
type usageError struct{ error }

// interruptedError is a run stopped by a signal after every fault was
// healed: exit 130.
type interruptedError struct{ error }

// usageArgs makes the errors of an argument check usage errors (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath())}
		}
		return nil
	}
}
