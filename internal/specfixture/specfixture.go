// Package specfixture gives provider tests the provider contracts kept in
// ../shared/specs beside the repository: each test reads its package's
// testdata copy, so it also runs where ../shared is absent, and wherever
// ../shared exists the copy must be identical to it, so no test runs against
// a stale fixture.
//
// It is for tests only and reads nothing but files.
package specfixture

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Read returns testdata/name of the calling test's package, a copy of
// ../shared/specs/<provider>/name, and fails t when the copy has drifted from
// the shared file.
func Read(t testing.TB, provider, name string) []byte {
	t.Helper()
	local, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("testdata/%s: %v (copy it from ../shared/specs/%s)", name, err, provider)
	}
	if dir := SharedDir(t, provider); dir != "" {
		shared, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("fixture %s is in testdata but not in %s: %v", name, dir, err)
		}
		if !bytes.Equal(local, shared) {
			t.Fatalf("testdata/%s drifted from %s; copy it again", name, filepath.Join(dir, name))
		}
	}
	return local
}

// SharedDir returns ../shared/specs/<provider> beside the module root, or ""
// when it does not exist.
func SharedDir(t testing.TB, provider string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	specs := filepath.Join(dir, "..", "shared", "specs", provider)
	if _, err := os.Stat(specs); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return specs
}

// CheckAll reads every JSON file in the calling package's testdata with Read,
// so a copy that drifted from ../shared/specs/<provider> fails the test even
// when no other test reads it. It fails when there is none.
func CheckAll(t testing.TB, provider string) {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			Read(t, provider, e.Name())
			n++
		}
	}
	if n == 0 {
		t.Fatal("no JSON fixtures in testdata")
	}
}
