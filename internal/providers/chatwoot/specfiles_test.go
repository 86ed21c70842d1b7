package chatwoot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpecFilesMatchShared keeps testdata's copies of Chatwoot's spec and
// fixtures identical to ../shared/specs/chatwoot when that exists, so the
// tests run against the spec the project pins, also where ../shared is
// absent.
func TestSpecFilesMatchShared(t *testing.T) {
	t.Parallel()
	names := []string{
		"SOURCE.json",
		"swagger.json",
		"webhook_conversation_created.json",
		"webhook_message_created.docs_2022_sample.json",
		"webhook_message_created.json",
		"webhook_signature_example.json",
	}
	if dir := sharedSpecDir(t); dir != "" {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var shared []string
		for _, e := range entries {
			shared = append(shared, e.Name())
		}
		require.ElementsMatch(t, names, shared, "files in %s: copy new ones into testdata and list them here", dir)
	}
	for _, name := range names {
		specFile(t, name) // fails on drift
	}

	var source struct {
		Swagger struct {
			SHA256 string `json:"sha256"`
		} `json:"swagger.json"`
	}
	require.NoError(t, json.Unmarshal(specFile(t, "SOURCE.json"), &source))
	sum := sha256.Sum256(specFile(t, "swagger.json"))
	require.Equal(t, source.Swagger.SHA256, hex.EncodeToString(sum[:]), "swagger.json is not the file SOURCE.json describes")

	_, err := os.Stat(filepath.Join("testdata", "real_shapes.json"))
	require.NoError(t, err, "testdata/real_shapes.json holds the real response shapes the contract test uses")
}
