package pgstore

import (
	"os"
	"testing"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestMain holds the shared PostgreSQL test lock while the package's tests
// run, so a fault test that restarts the server (which takes the lock
// exclusively) waits for them instead of breaking them.
func TestMain(m *testing.M) {
	os.Exit(pgtest.RunShared(m))
}
