package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
)

func newListCmd() *cobra.Command {
	return printCmd(&cobra.Command{Use: "list", Short: "List the built-in scenarios: NAME<tab>description"},
		func(w io.Writer) error {
			for _, sc := range chaos.Catalog() {
				if _, err := fmt.Fprintf(w, "%s\t%s\n", sc.Name, sc.Description); err != nil {
					return err
				}
			}
			return nil
		})
}

// printCmd makes c a command that takes no arguments and prints what print
// writes.
func printCmd(c *cobra.Command, print func(w io.Writer) error) *cobra.Command {
	c.Args = usageArgs(cobra.NoArgs)
	c.RunE = func(cmd *cobra.Command, _ []string) error { return print(cmd.OutOrStdout()) }
	return c
}
