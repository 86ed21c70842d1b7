package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pluginhost"
	"github.com/heraldhq/herald/sdk"
)

func (a *app) schemaCommand() *cobra.Command {
	dir := defaultDir
	var secretsFile string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of YAML project files, for editors",
		Long: "Print the JSON Schema (draft 2020-12) of Herald's YAML project files, built\n" +
			"from the workflow model and the schemas of the discovered provider plugins:\n" +
			"a provider's config is typed by its type, and a step's with by the action its\n" +
			"uses names. When --dir holds a project, its provider instances are used, so\n" +
			"with is typed for every instance; the project must then be valid (secrets\n" +
			"need not be set; --secrets-file or HERALD_SECRET_* give those that are). Without a project, each plugin is taken as an instance\n" +
			"named like its type, and with is typed only for such instances.\n\n" +
			"Point an editor at the output, for example with a first line\n" +
			"# yaml-language-server: $schema=./herald.schema.json",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			specs, err := a.schemaSpecs(cmd.Context(), dir, secretsFile)
			if err != nil {
				return err
			}
			return docgen.WriteSchema(a.stdout, docgen.WorkflowSchema(specs))
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "project directory whose provider instances type the schema, and whose herald.lock.json applies")
	cmd.Flags().StringVar(&secretsFile, "secrets-file", "", "dotenv file of secrets (NAME=value), read before HERALD_SECRET_NAME variables")
	return cmd
}

// schemaSpecs returns the specs the schema is built from, by the name a
// step's uses gives them: every discovered plugin under its type, and, when
// dir holds a project, each of its provider instances under its own name.
// A plugin that cannot be described is left out with a warning.
func (a *app) schemaSpecs(ctx context.Context, dir, secretsFile string) (map[string]*sdk.Spec, error) {
	plugins := a.pluginHost(dir)
	defer plugins.Close()
	specs := a.discoveredSpecs(ctx, plugins)
	if len(specs) == 0 {
		a.warnf("no provider plugin found in %s; the schema checks the workflow model only", strings.Join(pluginhost.DefaultPaths(), ", "))
	}
	if !hasProjectFiles(dir) {
		return specs, nil
	}
	// Secrets are not needed to know which instance has which type: one
	// that is not set reads as a stand-in value.
	secrets, err := host.LoadSecrets(secretsFile)
	if err != nil {
		return nil, &exitCodeError{code: exitUsage, err: err}
	}
	project, diags := host.LoadWith(ctx, host.Options{Dir: dir, Logger: a.logger, Secrets: secrets}, plugins, func(string) string {
		return "herald-schema-unset-secret"
	})
	if diags.HasErrors() {
		a.printDiagnostics(diags.Errors())
		return nil, &exitCodeError{code: exitUsage, err: fmt.Errorf("%s is invalid: %d error(s); fix them (see herald validate) or give --dir a directory without project files for a schema of every discovered plugin", dir, len(diags.Errors()))}
	}
	for name, p := range project.Providers {
		if p.Spec != nil {
			specs[name] = p.Spec
		}
	}
	return specs, nil
}

// discoveredSpecs describes every plugin the host discovers, by type. A
// plugin that fails to launch or that the lock refuses is left out with a
// warning on stderr.
func (a *app) discoveredSpecs(ctx context.Context, plugins *pluginhost.Host) map[string]*sdk.Spec {
	// Discover's error joins the errors each PluginInfo carries.
	infos, _ := plugins.Discover(ctx)
	specs := map[string]*sdk.Spec{}
	for _, info := range infos {
		if info.Err != nil {
			a.warnf("plugin %s left out: %v", info.Type, info.Err)
			continue
		}
		spec, err := plugins.Spec(ctx, info.Type)
		if err != nil {
			a.warnf("plugin %s left out: %v", info.Type, err)
			continue
		}
		specs[info.Type] = spec
	}
	return specs
}

// hasProjectFiles reports whether dir holds any file a project loads.
func hasProjectFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && config.IsProjectFile(e.Name()) {
			return true
		}
	}
	return false
}

// sortedSpecs returns specs ordered by type.
func sortedSpecs(specs map[string]*sdk.Spec) []*sdk.Spec {
	out := make([]*sdk.Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// warnf prints a warning to stderr.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "warning: "+format+"\n", args...)
}
