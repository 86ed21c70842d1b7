package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/pluginhost"
)

func (a *app) pluginsLockCommand() *cobra.Command {
	dir := defaultDir
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Write herald.lock.json with the sha256 of each plugin binary",
		Long: "Write D/herald.lock.json pinning every discovered plugin binary by its sha256.\n" +
			"Every command that loads project D then refuses a plugin whose binary differs,\n" +
			"and a plugin the lock does not list. Run it again after upgrading a plugin.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			host := a.pluginHost("") // the existing lock is what is being replaced
			defer host.Close()
			infos, err := host.Discover(cmd.Context())
			if err != nil {
				return fmt.Errorf("cannot lock: %w", err)
			}
			if len(infos) == 0 {
				return errors.New("no provider plugins found to lock")
			}
			if err := pluginhost.WriteLock(dir, infos); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Locked %d plugin(s) in %s:\n", len(infos), filepath.Join(dir, pluginhost.LockFile))
			for _, p := range infos {
				fmt.Fprintf(a.stdout, "  %s %s sha256:%s\n", p.Type, p.Version, p.SHA256)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory to write herald.lock.json in")
	return cmd
}
