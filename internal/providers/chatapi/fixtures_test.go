package chatapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/specfixture"
)

// fixture returns testdata/name, the copy of a fixture from
// ../shared/specs/chat-api, checked against the shared file where it exists.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return specfixture.Read(t, "chat-api", name)
}

func TestFixtureCopiesMatchSharedSpecs(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	var n int
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			fixture(t, e.Name())
			n++
		}
	}
	require.Positive(t, n)
}
