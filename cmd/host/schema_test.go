package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
)

// installBundledPlugins puts the bundled plugin binaries, and nothing else,
// on the plugin search path for the rest of the test.
func installBundledPlugins(t *testing.T) {
	t.Helper()
	built := testbin.Build(t, bundledPlugins...)
	dir := t.TempDir()
	for _, pkg := range bundledPlugins {
		name := filepath.Base(pkg)
		b, err := os.ReadFile(filepath.Join(built, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "herald-provider-"+name), b, 0o755))
	}
	t.Setenv("HERALD_PLUGIN_PATH", dir)
	t.Setenv("HOME", t.TempDir()) // no plugins from ~/.local/share/herald/plugins
}

// execute runs one command as the CLI would and returns its stdout, stderr
// and error.
func execute(t *testing.T, command func(*app) *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, logger: newLogger(&stderr)}
	cmd := command(a)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// copyProject copies the example project's files (not its store) to a new
// directory.
func copyProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, pattern := range []string{"*.hcl", "*.yaml"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "workflows", pattern))
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644))
		}
	}
	return dir
}

func compileSchema(t *testing.T, src string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(src)))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("herald.schema.json", doc))
	s, err := c.Compile("herald.schema.json")
	require.NoError(t, err)
	return s
}

func TestSchemaCommand(t *testing.T) {
	installBundledPlugins(t)

	// Without a project, each plugin under its type: the committed
	// docs/herald.schema.json, generated in-process from the same Specs.
	out, stderr, err := execute(t, (*app).schemaCommand, "--dir", t.TempDir())
	require.NoError(t, err, stderr)
	want, err := os.ReadFile(filepath.Join("..", "..", "docs", "herald.schema.json"))
	require.NoError(t, err)
	require.Equal(t, string(want), out, "herald schema without a project prints docs/herald.schema.json")

	// With the example project, and none of its secrets set, the project's
	// instances type the with of their steps too.
	dir := copyProject(t)
	out, stderr, err = execute(t, (*app).schemaCommand, "--dir", dir)
	require.NoError(t, err, stderr)
	s := compileSchema(t, out)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"workflows": {"w": {"steps": [
		{"id": "blast", "uses": "whatsapp_cc.send_blast", "with": {"search_spec": {"tag": "ops"}, "fb_template": "t", "language": "en", "colour": "red"}}
	]}}}`)))
	require.NoError(t, err)
	err = s.Validate(doc)
	require.Error(t, err, "whatsapp_cc is the project's chitchatlabs instance")
	require.Contains(t, err.Error(), "colour")

	// An invalid project is refused with its diagnostics.
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "bad.yaml"), []byte("workflows:\n  w:\n    stepz: []\n"), 0o644))
	_, stderr, err = execute(t, (*app).schemaCommand, "--dir", bad)
	var ce *exitCodeError
	require.True(t, errors.As(err, &ce), "got %v", err)
	require.Equal(t, exitUsage, ce.code)
	require.Contains(t, stderr, `bad.yaml:3:5: unknown key "stepz"`)
}
