package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pluginhost"
)

func (a *app) validateCommand() *cobra.Command {
	var f projectFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a project: syntax, CEL expressions, and every step against its plugin's schema",
		Long: "Load every *.hcl, *.yaml and *.yml file of the project directory, type-check\n" +
			"CEL conditions and templates, and check each step's uses/with against the\n" +
			"schema of the plugin it calls. Errors are printed as file:line:col: message\n" +
			"and make the command exit 1. Secrets that are not set are reported as\n" +
			"warnings: validation does not need their values, but run and serve do.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.hostOptions(&f)
			if err != nil {
				return err
			}
			missing := map[string]bool{}
			real := opts.Secrets
			opts.Secrets = nil
			plugins := pluginhost.New(pluginhost.Options{Logger: opts.Logger, LockDir: f.dir})
			defer plugins.Close()
			project, diags := host.LoadWith(cmd.Context(), opts, plugins, func(name string) (string, bool) {
				if v, ok := real.Lookup(name); ok {
					return v, true
				}
				missing[name] = true
				return "", true
			})
			a.printDiagnostics(diags)
			var names []string
			for n := range missing {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(a.stderr, "warning: secret %s is not set (set HERALD_SECRET_%s or use --secrets-file); run and serve will refuse the project without it\n", n, n)
			}
			if diags.HasErrors() {
				return &exitCodeError{code: exitFailure, err: fmt.Errorf("%s is invalid: %d error(s)", f.dir, len(diags.Errors()))}
			}
			steps := 0
			for _, w := range project.Workflows {
				steps += len(w.Steps)
			}
			fmt.Fprintf(a.stdout, "%s is valid: %d workflow(s), %d provider instance(s), %d step(s)\n", f.dir, len(project.Workflows), len(project.Providers), steps)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
