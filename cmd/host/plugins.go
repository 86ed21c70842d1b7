package main

import (
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/pluginhost"
)

// defaultDir is the project directory commands use without --dir.
const defaultDir = "./workflows"

func (a *app) pluginsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List, describe, install and lock provider plugins",
		Long: "Provider plugins are executables named herald-provider-<type>, searched in\n" +
			"$HERALD_PLUGIN_PATH (colon-separated), the directory of the herald executable\n" +
			"and ~/.local/share/herald/plugins; the first one found wins.",
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.pluginsListCommand(), a.pluginsDescribeCommand(), a.pluginsLockCommand(), a.pluginsInstallCommand())
	return cmd
}

// pluginHost returns a plugin host searching the default plugin directories.
// With lockDir set, the project's herald.lock.json (if any) is enforced.
// The caller closes it.
func (a *app) pluginHost(lockDir string) *pluginhost.Host {
	return pluginhost.New(pluginhost.Options{Logger: a.logger, LockDir: lockDir})
}
