//go:build linux && !(mips || mipsle || mips64 || mips64le)

package sdk

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// watchParentChildEnv makes this test binary the plugin whose parent goes
// away in TestWatchParentWakesWhenTheParentExits.
const watchParentChildEnv = "HERALD_SDK_TEST_WATCH_PARENT_CHILD"

// TestWatchParentWakesWhenTheParentExits checks that a plugin whose parent
// exits notices at once, through the parent's pidfd, although it would
// check the parent pid only every hour: the plugin is this test binary
// started by a shell that exits after starting it.
func TestWatchParentWakesWhenTheParentExits(t *testing.T) {
	if parent := os.Getenv(watchParentChildEnv); parent != "" {
		ppid, err := strconv.Atoi(parent)
		require.NoError(t, err)
		fmt.Fprintln(os.Stderr, "watching")
		watchParent(ppid, time.Hour, func() {})
		return
	}
	t.Parallel()
	out := filepath.Join(t.TempDir(), "stderr")
	// The shell starts the plugin, waits until it is watching and exits.
	cmd := exec.Command("sh", "-c", `
		`+watchParentChildEnv+`=$$ "$0" -test.run='^TestWatchParentWakesWhenTheParentExits$' 2>"$1" &
		echo $!
		until grep -q watching "$1" 2>/dev/null; do sleep 0.02; done`, os.Args[0], out)
	stdout, err := cmd.Output()
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(stdout)))
	require.NoError(t, err)
	t.Cleanup(func() {
		if !t.Failed() {
			return // the plugin exited
		}
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill() // still watching
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, _ := os.ReadFile(out)
		if strings.Contains(string(raw), "herald host process is gone; plugin exiting") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin did not notice its parent exit within 10s; its stderr: %q", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
