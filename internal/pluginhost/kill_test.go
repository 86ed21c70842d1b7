package pluginhost

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
)

const testhostPkg = "github.com/heraldhq/herald/internal/testplugin/cmd/herald-testhost"

// A host killed with SIGKILL cannot kill its plugins; the plugin notices
// that its parent is gone and exits on its own.
func TestKilledHostLeavesNoPlugin(t *testing.T) {
	t.Parallel()
	dir := testbin.Build(t, echoPkg, testhostPkg)
	cmd := exec.Command(filepath.Join(dir, "herald-testhost"), dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	pluginPid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	require.False(t, processGone(pluginPid), "the plugin runs while its host does")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return processGone(pluginPid) }, 15*time.Second, 20*time.Millisecond,
		"plugin pid %d outlived its killed host", pluginPid)
	t.Logf("kill -9 of host pid %d: plugin pid %d gone %s later", cmd.Process.Pid, pluginPid, time.Since(killed).Round(time.Millisecond))
}
