package testbin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
)

const pkg = "github.com/heraldhq/herald/internal/testplugin/cmd/herald-testhttp"

func TestModuleRoot(t *testing.T) {
	t.Parallel()
	root, err := testbin.ModuleRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
}

func TestBuildGivesEachCallItsOwnCopy(t *testing.T) {
	t.Parallel()
	a := testbin.Build(t, pkg)
	b := testbin.Build(t, "./internal/testplugin/cmd/herald-testhttp")
	require.NotEqual(t, a, b)
	binA, binB := filepath.Join(a, "herald-testhttp"), filepath.Join(b, "herald-testhttp")
	fi, err := os.Stat(binA)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode().Perm()&0o100, "the binary is executable")

	// Changing one copy leaves the other, and later builds, alone.
	require.NoError(t, os.WriteFile(binA, []byte("tampered"), 0o755))
	out, err := exec.Command(binB).CombinedOutput() // stdin is empty: it prints its address and exits
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `^127\.0\.0\.1:\d+\n$`, string(out))
	c := testbin.Build(t, pkg)
	fc, err := os.Stat(filepath.Join(c, "herald-testhttp"))
	require.NoError(t, err)
	require.Greater(t, fc.Size(), int64(len("tampered")))
}
