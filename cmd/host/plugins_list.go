package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/pluginhost"
)

func (a *app) pluginsListCommand() *cobra.Command {
	dir := defaultDir
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the discovered provider plugins",
		Long: "List the discovered provider plugins with their version, protocol, path,\n" +
			"sha256 and actions. Plugins that the project's herald.lock.json refuses,\n" +
			"or that fail to start, are listed with their error, and the command fails.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			host := a.pluginHost(dir)
			defer host.Close()
			infos, err := host.Discover(cmd.Context())
			if len(infos) == 0 && err == nil {
				fmt.Fprintf(a.stdout, "No provider plugins found in %s.\n", strings.Join(pluginhost.DefaultPaths(), ", "))
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOL\tPATH\tSHA256\tACTIONS")
			for _, p := range infos {
				version, protocol, actions := p.Version, fmt.Sprint(p.Protocol), strings.Join(p.Actions, ", ")
				if p.Err != nil {
					version, protocol, actions = "-", "-", "(unavailable)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Type, version, protocol, orDash(p.Path), shortSum(p.SHA256), actions)
			}
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			if err != nil {
				return errors.New(strings.ReplaceAll(err.Error(), "\n", "\nherald: "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory whose herald.lock.json applies")
	return cmd
}

// shortSum abbreviates a sha256 for tables.
func shortSum(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return orDash(sum)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
