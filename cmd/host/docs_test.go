package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocsProvidersCommand(t *testing.T) {
	installBundledPlugins(t)

	// Described over the plugin protocol, the bundled plugins give the page
	// that go generate ./internal/docgen writes from their Specs in-process.
	out, stderr, err := execute(t, (*app).docsCommand, "providers", "--dir", t.TempDir())
	require.NoError(t, err, stderr)
	want, err := os.ReadFile(filepath.Join("..", "..", "docs", "providers.md"))
	require.NoError(t, err)
	require.Equal(t, string(want), out)

	// A plugin the project's lock refuses is left out with a warning.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "herald.lock.json"), []byte(`{"plugins": {}}`), 0o644))
	out, stderr, err = execute(t, (*app).docsCommand, "providers", "--dir", dir)
	require.Error(t, err, "every plugin is refused")
	require.Empty(t, out)
	require.Contains(t, stderr, "warning: plugin chatapi left out: plugin herald-provider-chatapi at ")
	require.Contains(t, stderr, "is not in "+filepath.Join(dir, "herald.lock.json"))
}
