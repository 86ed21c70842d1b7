package pluginhost

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
)

// targz returns a gzipped tar archive holding files by name.
func targz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestInstall installs the built echo plugin from a local HTTP server, as a
// bare executable and inside a .tar.gz, and from a file path, and checks
// that a wrong sha256, a broken binary and a missing file leave the plugin
// directory as it was.
func TestInstall(t *testing.T) {
	t.Parallel()
	bin, err := os.ReadFile(filepath.Join(testbin.Build(t, echoPkg), "herald-provider-echo"))
	require.NoError(t, err)
	sum := hexSum(bin)
	archive := targz(t, map[string][]byte{"dist/README": []byte("hi"), "dist/herald-provider-echo": bin})
	files := map[string][]byte{
		"/herald-provider-echo":   bin,
		"/echo.tar.gz":            archive,
		"/two.tar.gz":             targz(t, map[string][]byte{"herald-provider-echo": bin, "herald-provider-other": bin}),
		"/herald-provider-broken": []byte("#!/bin/sh\nexit 3\n"),
		"/not-a-plugin":           bin,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	local := filepath.Join(t.TempDir(), "herald-provider-echo")
	require.NoError(t, os.WriteFile(local, bin, 0o644))

	for _, tc := range []struct{ name, source, sha256 string }{
		{"url", srv.URL + "/herald-provider-echo", ""},
		{"url with sha256", srv.URL + "/herald-provider-echo", strings.ToUpper(sum)},
		{"tar.gz", srv.URL + "/echo.tar.gz", hexSum(archive)},
		{"tar.gz with the executable's sha256", srv.URL + "/echo.tar.gz", sum},
		{"path", local, sum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "plugins")
			info, err := Install(context.Background(), InstallOptions{Source: tc.source, SHA256: tc.sha256, Dir: dir})
			require.NoError(t, err)
			require.Equal(t, "echo", info.Type)
			require.Equal(t, "1.0.0", info.Version)
			require.Equal(t, sum, info.SHA256)
			require.Equal(t, filepath.Join(dir, "herald-provider-echo"), info.Path)
			require.True(t, isExecutable(info.Path))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "no staging left behind")
		})
	}

	for _, tc := range []struct{ name, source, sha256, want string }{
		{"wrong sha256", srv.URL + "/herald-provider-echo", strings.Repeat("0", 64), "sha256 " + sum + " does not match --sha256 " + strings.Repeat("0", 64)},
		{"not found", srv.URL + "/herald-provider-nope", "", "404 Not Found"},
		{"two plugins", srv.URL + "/two.tar.gz", "", "more than one plugin"},
		{"broken", srv.URL + "/herald-provider-broken", "", "is not a working plugin"},
		{"bad name", srv.URL + "/not-a-plugin", "", `the file name "not-a-plugin" is not herald-provider-<type>`},
		{"missing file", filepath.Join(t.TempDir(), "herald-provider-x"), "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "plugins")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			old := filepath.Join(dir, "herald-provider-echo")
			require.NoError(t, os.WriteFile(old, []byte("old"), 0o755))
			_, err := Install(context.Background(), InstallOptions{Source: tc.source, SHA256: tc.sha256, Dir: dir})
			require.ErrorContains(t, err, tc.want)
			b, err := os.ReadFile(old)
			require.NoError(t, err)
			require.Equal(t, "old", string(b), "a failed install replaces nothing")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "no staging left behind")
		})
	}
}
