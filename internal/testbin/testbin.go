// Package testbin builds the module's main packages for tests that need real
// binaries, such as plugin processes for the host runtime. Each package is
// built at most once per test process; every Build call then gets its own
// directory holding copies, so a test may tamper with or delete its binaries
// without disturbing another.
//
// It is for tests only and must not be imported by non-test code.
package testbin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error

	mu     sync.Mutex
	builds = map[string]*build{} // by package
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build builds each main package (an import path such as
// "github.com/heraldhq/herald/internal/testplugin/cmd/herald-provider-echo",
// or a path relative to the module root such as
// "./internal/testplugin/cmd/herald-provider-echo") and returns a fresh
// directory, removed when the test ends, that holds each binary under the
// last element of its package path.
func Build(t testing.TB, pkgs ...string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, pkg := range pkgs {
		bin, err := built(pkg)
		if err != nil {
			t.Fatalf("testbin: %v", err)
		}
		if err := copyFile(bin, filepath.Join(dir, path.Base(pkg))); err != nil {
			t.Fatalf("testbin: %v", err)
		}
	}
	return dir
}

// ModuleRoot returns the directory of the module's go.mod, as `go env GOMOD`
// reports it for the working directory.
func ModuleRoot() (string, error) {
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			rootErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			rootErr = fmt.Errorf("not inside a Go module")
			return
		}
		root = filepath.Dir(gomod)
	})
	return root, rootErr
}

// built returns the path of pkg's binary, building it on first use.
func built(pkg string) (string, error) {
	mu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &build{}
		builds[pkg] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	return b.path, b.err
}

// goBuild builds pkg into a cache directory shared by the test processes of
// one checkout. Concurrent test processes (go test runs packages in
// parallel) each build to a temporary name and rename it into place, so a
// reader never sees a half-written binary and nothing is left behind per
// process.
func goBuild(pkg string) (string, error) {
	modRoot, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(modRoot))
	cache := filepath.Join(os.TempDir(), "herald-testbin-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(cache, path.Base(pkg)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer func() { _ = os.Remove(tmpName) }()

	var stderr bytes.Buffer
	cmd := exec.Command("go", "build", "-o", tmpName, pkg)
	cmd.Dir = modRoot
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	final := filepath.Join(cache, path.Base(pkg))
	if err := os.Rename(tmpName, final); err != nil {
		return "", err
	}
	return final, nil
}

// copyFile copies src to dst, an executable. It holds syscall.ForkLock
// while dst is open for writing: a process forked meanwhile by a parallel
// test would hold that descriptor until it execs, and running dst in that
// moment fails with "text file busy" (ETXTBSY, golang.org/issue/22315).
func copyFile(src, dst string) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
