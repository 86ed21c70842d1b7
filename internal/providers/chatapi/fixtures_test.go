package chatapi

import (
	"testing"

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
	specfixture.CheckAll(t, "chat-api")
}
