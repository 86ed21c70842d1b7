package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// migrateCommand is `herald migrate`: it brings the store's schema up to
// date, and on PostgreSQL River's tables beside it, so a deployment can
// migrate once before it starts or upgrades its replicas. `herald serve`
// applies the same migrations on start.
func (a *app) migrateCommand() *cobra.Command {
	var f projectFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's migrations (and River's on PostgreSQL)",
		Long: "Bring the store's schema up to date: Herald's tables, and on a postgres://\n" +
			"store River's job tables in the same schema. Replicas starting at once, or a\n" +
			"migrate running beside them, take turns on an advisory lock. `herald serve`\n" +
			"applies the same migrations on start; this command lets a deployment do it\n" +
			"once, before rolling out new replicas.\n\n" +
			"Environment: HERALD_STORE (default sqlite://<dir>/.herald/herald.db).",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dsn := f.storeDSN()
			st, err := host.OpenStore(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			switch s := st.(type) {
			case *pgstore.Store:
				fmt.Fprintf(a.stdout, "herald: postgres schema %s is up to date\n", s.Schema())
				applied, err := cluster.Migrate(cmd.Context(), s, a.logger)
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					fmt.Fprintln(a.stdout, "cluster (river and rate limits): up to date")
				} else {
					fmt.Fprintf(a.stdout, "cluster (river and rate limits): applied %s\n", strings.Join(applied, ", "))
				}
			default:
				d, _ := store.ParseDSN(dsn)
				fmt.Fprintf(a.stdout, "herald: sqlite store %s is up to date (River is used with postgres:// stores only)\n", d.Path)
			}
			return nil
		},
	}
	f.registerStore(cmd)
	return cmd
}
