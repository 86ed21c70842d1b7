package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/pluginhost"
)

func (a *app) pluginsInstallCommand() *cobra.Command {
	dir := defaultDir
	var sum, pluginDir string
	cmd := &cobra.Command{
		Use:   "install PATH|URL",
		Short: "Install a plugin binary into the user plugin directory",
		Long: "Copy a plugin executable named herald-provider-<type>, or a .tar.gz archive\n" +
			"holding exactly one, from a file or an http(s) URL into the user plugin\n" +
			"directory (~/.local/share/herald/plugins), replacing a plugin of the same type.\n" +
			"With --sha256 the download must have that sha256 (the archive's or the\n" +
			"executable's). The plugin is launched and described before it is put in place,\n" +
			"so a broken download replaces nothing. When project D has a herald.lock.json,\n" +
			"its entry for the plugin is updated to the new binary.",
		Args: exactArgs("PATH|URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pluginDir == "" {
				d, err := pluginhost.UserDir()
				if err != nil {
					return fmt.Errorf("user plugin directory: %w", err)
				}
				pluginDir = d
			}
			info, err := pluginhost.Install(cmd.Context(), pluginhost.InstallOptions{
				Source: args[0], SHA256: sum, Dir: pluginDir, Logger: a.logger,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Installed %s %s in %s (sha256:%s)\n", info.Type, info.Version, info.Path, info.SHA256)
			updated, err := pluginhost.UpdateLock(dir, info)
			if err != nil {
				return fmt.Errorf("updating the lock: %w", err)
			}
			if updated {
				fmt.Fprintf(a.stdout, "Updated %s\n", filepath.Join(dir, pluginhost.LockFile))
			}
			host := a.pluginHost("")
			defer host.Close()
			if used, err := host.Find(info.Type); err == nil && used != info.Path {
				fmt.Fprintf(a.stderr, "herald: warning: %s is found first on the plugin search path and is used instead\n", used)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory whose herald.lock.json is updated, if it has one")
	cmd.Flags().StringVar(&sum, "sha256", "", "expected hex sha256 of the download")
	cmd.Flags().StringVar(&pluginDir, "plugin-dir", "", "directory to install into (default ~/.local/share/herald/plugins)")
	return cmd
}
