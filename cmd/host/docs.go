package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/internal/pluginhost"
)

func (a *app) docsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Generate documentation from the provider plugins' own declarations",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.docsProvidersCommand())
	return cmd
}

func (a *app) docsProvidersCommand() *cobra.Command {
	dir := defaultDir
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "Print the markdown reference of every discovered provider plugin",
		Long: "Print one markdown page documenting every discovered provider plugin: its\n" +
			"configuration (sensitive fields marked), each action with its input and\n" +
			"output, and the events it emits, all from the plugin's own schema. For the\n" +
			"bundled plugins it is docs/providers.md. A plugin that fails to start, or that\n" +
			"the project's herald.lock.json refuses, is left out with a warning.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			plugins := a.pluginHost(dir)
			defer plugins.Close()
			specs := a.discoveredSpecs(cmd.Context(), plugins)
			if len(specs) == 0 {
				return errors.New("no provider plugin found in " + strings.Join(pluginhost.DefaultPaths(), ", "))
			}
			return docgen.ProvidersPage(a.stdout, sortedSpecs(specs))
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory whose herald.lock.json applies")
	return cmd
}
