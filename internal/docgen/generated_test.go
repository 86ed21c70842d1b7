package docgen_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/internal/docgen/bundled"
)

// TestGeneratedDocsAreCurrent fails when docs/providers.md or
// docs/herald.schema.json differ from what the bundled plugins' Specs
// generate now: a change to a provider's declaration must come with the
// regenerated docs.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	t.Parallel()
	specs, err := bundled.Specs()
	require.NoError(t, err)
	files, err := docgen.Files(specs)
	require.NoError(t, err)
	require.Len(t, files, 2)
	for name, want := range files {
		path := filepath.Join(repoRoot, "docs", name)
		got, err := os.ReadFile(path)
		require.NoError(t, err, "docs/%s is missing: run go generate ./internal/docgen", name)
		if !bytes.Equal(got, want) {
			t.Errorf("docs/%s is out of date with the plugins' Specs: run go generate ./internal/docgen and commit the result", name)
		}
	}
}

// TestProvidersPageSections checks the page's shape: the index links every
// provider's section, and each provider's reference is the one `herald
// plugins describe --format markdown` prints, one heading level down.
func TestProvidersPageSections(t *testing.T) {
	t.Parallel()
	specs, err := bundled.Specs()
	require.NoError(t, err)
	var page bytes.Buffer
	require.NoError(t, docgen.ProvidersPage(&page, specs))
	text := page.String()
	require.True(t, bytes.HasPrefix(page.Bytes(), []byte(docgen.GeneratedNotice+"\n")))
	for _, s := range specs {
		require.Contains(t, text, "](#provider-"+s.Type+")", "the index links %s", s.Type)
		var own bytes.Buffer
		require.NoError(t, docgen.ProviderMarkdown(&own, s, 1))
		section := bytes.ReplaceAll(own.Bytes(), []byte("\n#"), []byte("\n##"))
		section = append([]byte("#"), section...)
		require.Contains(t, text, string(section), "the section of %s", s.Type)
	}
}
