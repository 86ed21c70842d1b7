package pluginhost

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/sdk"
)

// startDebugPlugin runs the echo plugin in debug mode, as a developer would
// under a debugger, and returns the HERALD_REATTACH_PROVIDERS value it prints.
func startDebugPlugin(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	dir := testbin.Build(t, echoPkg)
	cmd := exec.Command(filepath.Join(dir, "herald-provider-echo"), "--debug")
	cmd.Env = append(os.Environ(), sdk.DebugEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	prefix := "export " + sdk.ReattachEnv + "='"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, prefix); ok {
			go func() { // keep draining so the plugin never blocks on stdout
				for sc.Scan() {
				}
			}()
			return cmd, strings.TrimSuffix(v, "'")
		}
	}
	t.Fatalf("the plugin in debug mode printed no %s line: %v", sdk.ReattachEnv, sc.Err())
	return nil, ""
}

func TestReattachToPluginInDebugMode(t *testing.T) {
	t.Parallel()
	cmd, value := startDebugPlugin(t)

	h := New(Options{Paths: []string{t.TempDir()}}) // nothing to launch: it must attach
	h.reattachEnv = value                           // what New reads from HERALD_REATTACH_PROVIDERS
	ctx := context.Background()
	c, err := h.Client(ctx, "echo")
	require.NoError(t, err)
	require.Equal(t, cmd.Process.Pid, h.Pid("echo"))
	require.Contains(t, value, `"protocol_version":2`, "a plugin in debug mode serves the newest protocol")
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
	out, err := invoke(ctx, c, "main", "count", `{}`)
	require.NoError(t, err)
	require.Equal(t, float64(cmd.Process.Pid), out["pid"], "calls reach the process started by hand")

	// Closing the host leaves a plugin it did not start running.
	require.NoError(t, h.Close())
	require.False(t, processGone(cmd.Process.Pid))
}

func TestReattachEnvIsValidated(t *testing.T) {
	t.Parallel()
	h := New(Options{Paths: []string{t.TempDir()}})
	t.Cleanup(func() { _ = h.Close() })
	h.reattachEnv = `{"echo":{"protocol":"grpc","protocol_version":1,"network":"carrier-pigeon","address":"x","pid":1}}`
	_, err := h.Client(context.Background(), "echo")
	require.ErrorContains(t, err, `unknown network "carrier-pigeon"`)
	h.reattachEnv = `not json`
	_, err = h.Client(context.Background(), "echo")
	require.ErrorContains(t, err, sdk.ReattachEnv)
	// Types the variable does not name are launched (here: not found) as usual.
	h.reattachEnv = `{}`
	_, err = h.Client(context.Background(), "echo")
	require.ErrorIs(t, err, ErrNotFound)
}
