// Package testfigures lets a test report a measured figure (duplicates,
// lost items, fires per slot) where a reader of the CI log sees it: on
// stdout, in the test log, and appended to the file HERALD_TEST_FIGURES
// names, which .ci/run prints after `go test ./...` (whose output hides
// passing tests' stdout).
//
// It is for tests only.
package testfigures

import (
	"fmt"
	"os"
	"testing"
)

// Report logs msg and records it as one of the run's figures.
func Report(t testing.TB, msg string) {
	t.Helper()
	t.Log(msg)
	fmt.Println(msg)
	path := os.Getenv("HERALD_TEST_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Logf("testfigures: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", t.Name(), msg)
}
