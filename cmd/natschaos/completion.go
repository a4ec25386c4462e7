package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/protocol"
)

// completeScenario offers the built-in scenario names; a word that looks
// like a path (a slash, or a .yaml/.yml ending) is left to file completion.
func completeScenario(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, "/.") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []string
	for _, sc := range chaos.Catalog() {
		if strings.HasPrefix(sc.Name, toComplete) {
			out = append(out, sc.Name+"\t"+sc.Description)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeVariant offers the reference API's variants.
func completeVariant(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, v := range protocol.VariantNames() {
		if strings.HasPrefix(v, toComplete) {
			out = append(out, v)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// addCompletions registers the completions of the flags that name a
// scenario (run --scenario/-s) or a variant (run, sut and verify --variant).
func addCompletions(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "run":
			_ = c.RegisterFlagCompletionFunc("scenario", completeScenario)
			_ = c.RegisterFlagCompletionFunc("variant", completeVariant)
		case "sut":
			_ = c.RegisterFlagCompletionFunc("variant", completeVariant)
		case "verify": // only the known-bad variants
			_ = c.RegisterFlagCompletionFunc("variant", func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				all, d := completeVariant(c, args, toComplete)
				return slices.DeleteFunc(all, func(v string) bool { return v == protocol.VariantGood }), d
			})
		}
	}
}
