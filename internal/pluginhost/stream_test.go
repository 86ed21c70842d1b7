package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/testbin"
)

// protocol1 builds the Echo plugin once per test process, limited to
// protocol 1 as plugins built before protocol 2 are (it serves no invoke
// stream and negotiates version 1).
var protocol1 struct {
	once sync.Once
	path string
	err  error
}

// buildProtocol1 returns a fresh directory holding the protocol-1-only Echo
// plugin as herald-provider-echo.
func buildProtocol1(t testing.TB) string {
	t.Helper()
	protocol1.once.Do(func() {
		root, err := testbin.ModuleRoot()
		if err != nil {
			protocol1.err = err
			return
		}
		sum := sha256.Sum256([]byte(root))
		cache := filepath.Join(os.TempDir(), "herald-testbin-"+hex.EncodeToString(sum[:6]))
		if protocol1.err = os.MkdirAll(cache, 0o700); protocol1.err != nil {
			return
		}
		tmp := filepath.Join(cache, "herald-provider-echo-protocol1.tmp"+strconv.Itoa(os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp,
			"-ldflags", "-X github.com/heraldhq/herald/sdk.servedProtocols=1", echoPkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			protocol1.err = fmt.Errorf("go build %s: %v\n%s", echoPkg, err, out)
			return
		}
		protocol1.path = filepath.Join(cache, "herald-provider-echo-protocol1")
		protocol1.err = os.Rename(tmp, protocol1.path)
	})
	if protocol1.err != nil {
		t.Fatal(protocol1.err)
	}
	dir := t.TempDir()
	raw, err := os.ReadFile(protocol1.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "herald-provider-echo"), raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
