package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestWriteAndReadLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := ReadLock(dir)
	require.NoError(t, err)
	require.Nil(t, lock, "no lock file is no lock")

	require.NoError(t, WriteLock(dir, []PluginInfo{
		{Type: "echo", Version: "1.0.0", Path: "/p/herald-provider-echo", SHA256: "ab12"},
		{Type: "inproc", Version: "2.0.0"},
	}))
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	require.JSONEq(t, `{"plugins":{"echo":{"path":"herald-provider-echo","sha256":"ab12","version":"1.0.0"}}}`, string(b))

	lock, err = ReadLock(dir)
	require.NoError(t, err)
	require.Equal(t, LockedPlugin{Path: "herald-provider-echo", SHA256: "ab12", Version: "1.0.0"}, lock.Plugins["echo"])

	require.Error(t, WriteLock(filepath.Join(dir, "missing"), nil), "the project dir must exist")
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockFile), []byte("{"), 0o644))
	_, err = ReadLock(dir)
	require.ErrorContains(t, err, LockFile)
}

// lockedFixture returns a fixture whose project dir has a lock of the echo
// plugin as built.
func lockedFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	project := t.TempDir()
	plain := setup(t, Options{})
	infos, err := plain.host.Discover(context.Background())
	require.NoError(t, err)
	require.NoError(t, WriteLock(project, infos))
	f := setup(t, Options{LockDir: project, Paths: []string{plain.dir}})
	f.dir = plain.dir
	return f, project
}

func TestLockedPluginRuns(t *testing.T) {
	t.Parallel()
	f, _ := lockedFixture(t)
	c := f.client(t)
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	require.Equal(t, float64(1), count(t, c, "main"))
}

func TestLockMismatchIsRefusedBeforeLaunch(t *testing.T) {
	t.Parallel()
	f, project := lockedFixture(t)
	path := filepath.Join(f.dir, "herald-provider-echo")
	locked, err := fileSHA256(path)
	require.NoError(t, err)

	// Tamper with the binary: it still runs, but is not what was locked.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, append(b, "tampered"...), 0o755))
	got, err := fileSHA256(path)
	require.NoError(t, err)

	_, err = f.host.Client(context.Background(), "echo")
	var lerr *LockError
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
	want := "plugin herald-provider-echo at " + path + ": sha256 " + got + " does not match " +
		filepath.Join(project, LockFile) + " (" + locked + ")"
	require.Equal(t, want, err.Error())
	t.Logf("refused: %v", err)
	require.Zero(t, f.host.Pid("echo"), "nothing was launched")
	_, found := f.logs.find("starting plugin")
	require.False(t, found, "go-plugin never started the binary")
}

func TestLockWithoutThePluginRefusesIt(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{LockDir: t.TempDir()})
	require.NoError(t, WriteLock(f.host.opts.LockDir, nil))
	_, err := f.host.Client(context.Background(), "echo")
	var lerr *LockError
	require.ErrorAs(t, err, &lerr)
	require.Empty(t, lerr.Want)
	require.True(t, strings.HasSuffix(err.Error(), "is not in "+filepath.Join(f.host.opts.LockDir, LockFile)+"; run `herald plugins lock` to add it"), err.Error())
}

// SecureConfig is the second guard: go-plugin checks the sum again right
// before exec, so a binary swapped after the first check is refused too.
func TestSecureConfigChecksTheBinaryAtExec(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	path := filepath.Join(f.dir, "herald-provider-echo")
	_, err := f.host.start(context.Background(), "echo", path, strings.Repeat("00", 32))
	require.ErrorIs(t, err, plugin.ErrChecksumsDoNotMatch)

	sum, err := fileSHA256(path)
	require.NoError(t, err)
	p, err := f.host.start(context.Background(), "echo", path, sum)
	require.NoError(t, err)
	p.kill()
}

// TestLockWithAbsolutePathsStillLoads checks that a lock written before
// paths became relative (an absolute path elsewhere) is still enforced by
// its sha256 alone.
func TestLockWithAbsolutePathsStillLoads(t *testing.T) {
	t.Parallel()
	f, project := lockedFixture(t)
	lock, err := ReadLock(project)
	require.NoError(t, err)
	echo := lock.Plugins["echo"]
	require.Equal(t, "herald-provider-echo", echo.Path, "the lock holds no directory")
	old := fmt.Sprintf(`{"plugins":{"echo":{"path":"/elsewhere/bin/herald-provider-echo","sha256":%q,"version":"1.0.0"}}}`, echo.SHA256)
	require.NoError(t, os.WriteFile(filepath.Join(project, LockFile), []byte(old), 0o644))
	c := f.client(t)
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
}

func TestUpdateLockReplacesOneEntry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	updated, err := UpdateLock(dir, PluginInfo{Type: "echo", Path: "/x/herald-provider-echo", SHA256: "cd"})
	require.NoError(t, err)
	require.False(t, updated, "no lock, nothing written")
	require.NoFileExists(t, filepath.Join(dir, LockFile))

	require.NoError(t, WriteLock(dir, []PluginInfo{
		{Type: "echo", Version: "1.0.0", Path: "/p/herald-provider-echo", SHA256: "ab"},
		{Type: "other", Version: "3.0.0", Path: "/p/herald-provider-other", SHA256: "ef"},
	}))
	updated, err = UpdateLock(dir, PluginInfo{Type: "echo", Version: "1.2.0", Path: "/home/u/plugins/herald-provider-echo", SHA256: "cd"})
	require.NoError(t, err)
	require.True(t, updated)
	lock, err := ReadLock(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]LockedPlugin{
		"echo":  {Path: "herald-provider-echo", SHA256: "cd", Version: "1.2.0"},
		"other": {Path: "herald-provider-other", SHA256: "ef", Version: "3.0.0"},
	}, lock.Plugins)
}
