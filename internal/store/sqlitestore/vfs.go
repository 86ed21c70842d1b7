package sqlitestore

import (
	"fmt"
	"net/url"
	"os"

	"github.com/heraldhq/herald/internal/store/sqlitestore/walbuf"
)

// vfsEnv names the environment variable that selects the writer's SQLite
// VFS: "unix" is SQLite's default, which writes every WAL frame with two
// pwrite calls; unset or "herald-walbuf" is walbuf, which writes a commit's
// frames with one; any other value fails the store's open. See
// docs/operations.md.
const vfsEnv = "HERALD_SQLITE_VFS"

// writerVFSParam returns the vfs parameter to append to the writer's DSN
// ("" for SQLite's default), registering walbuf on first use.
func writerVFSParam() (string, error) {
	switch v := os.Getenv(vfsEnv); v {
	case "unix":
		return "", nil
	case "", walbuf.Name:
		if err := walbuf.Register(); err != nil {
			return "", err
		}
		return "&vfs=" + url.QueryEscape(walbuf.Name), nil
	default:
		return "", fmt.Errorf("%s=%q: want %q or %q", vfsEnv, v, "unix", walbuf.Name)
	}
}
