package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios: NAME<tab>description",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, sc := range chaos.Catalog() {
				if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", sc.Name, sc.Description); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
