package main

import (
	"fmt"

	"github.com/spf13/cobra"
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
			project, diags, missing, err := a.inspect(cmd.Context(), &f)
			if err != nil {
				return err
			}
			a.printDiagnostics(diags)
			for _, n := range missing {
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
