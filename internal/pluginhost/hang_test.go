//go:build unix

package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// Scripts that pass for plugins but never complete the handshake. Each
// appends the pids it starts to PIDFILE, its own first: that one leads the
// plugin's process group.
var hangingPlugins = map[string]string{
	// Forks a child that holds stdout, then turns into a sleeper itself.
	"background child": "echo $$ >> PIDFILE\nsleep 600 &\necho $! >> PIDFILE\nexec sleep 600\n",
	// Runs a child in the foreground and prints nothing.
	"foreground child": "echo $$ >> PIDFILE\nsleep 600\n",
	// Answers the handshake with garbage, then waits on a child.
	"bad handshake": "echo $$ >> PIDFILE\nsleep 600 &\necho $! >> PIDFILE\necho not-a-handshake\nwait\n",
}

// writeScript writes an executable shell script whose PIDFILE is replaced
// by pidFile, and kills what the script started when the test ends, so a
// test that fails does not leave sleepers behind.
func writeScript(t *testing.T, path, body, pidFile string) {
	t.Helper()
	body = "#!/bin/sh\n" + strings.ReplaceAll(body, "PIDFILE", pidFile)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	t.Cleanup(func() {
		for _, pid := range readPids(pidFile) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// readPids returns the pids a script appended to pidFile.
func readPids(pidFile string) []int {
	b, _ := os.ReadFile(pidFile)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// groupMembers returns the processes of process group pgid that have not
// exited (zombies waiting for a reaper count as exited).
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("needs /proc")
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// After the command: state, ppid, pgrp.
		fields := strings.Fields(s[i+1:])
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// requireNoneLeft checks that every process a script started has exited
// and that its process group is empty.
func requireNoneLeft(t *testing.T, pidFile string) {
	t.Helper()
	pids := readPids(pidFile)
	require.NotEmpty(t, pids, "the script never ran")
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if !processGone(pid) {
				return false
			}
		}
		return len(groupMembers(t, pids[0])) == 0
	}, 5*time.Second, 20*time.Millisecond, "processes %v (group %d) outlived the launch: %v left", pids, pids[0], groupMembers(t, pids[0]))
}

// within runs f and fails the test when it takes longer than limit.
func within[T any](t *testing.T, limit time.Duration, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case v := <-done:
		t.Logf("%s took %s", what, time.Since(start).Round(time.Millisecond))
		return v
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s", what, limit)
		panic("unreachable")
	}
}

// A plugin that never completes the handshake, however it hangs, costs
// Discover its start timeout: it is reported with its path and the
// deadline, its whole process group is killed, and the plugin beside it is
// listed and works.
func TestHangingPluginDoesNotBlockDiscover(t *testing.T) {
	t.Parallel()
	for name, script := range hangingPlugins {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{})
			// Long enough for the echo plugin on a busy machine.
			f.host.startTimeout = 5 * time.Second
			hang := filepath.Join(f.dir, "herald-provider-hang")
			pidFile := filepath.Join(t.TempDir(), "pids")
			writeScript(t, hang, script, pidFile)

			type result struct {
				infos []PluginInfo
				err   error
			}
			r := within(t, 12*time.Second, "Discover", func() result {
				infos, err := f.host.Discover(context.Background())
				return result{infos, err}
			})
			require.Len(t, r.infos, 2)
			echo, bad := r.infos[0], r.infos[1]
			require.Equal(t, "echo", echo.Type)
			require.NoError(t, echo.Err)
			require.Equal(t, "1.0.0", echo.Version)
			require.Equal(t, "hang", bad.Type)
			require.Error(t, bad.Err)
			require.ErrorIs(t, r.err, bad.Err)
			require.Contains(t, bad.Err.Error(), "plugin herald-provider-hang at "+hang+": ")
			if name == "bad handshake" {
				require.Contains(t, bad.Err.Error(), "Unrecognized remote plugin message: not-a-handshake")
			} else {
				require.Contains(t, bad.Err.Error(), "did not complete the handshake within 5s")
			}
			within(t, 6*time.Second, "the group's end", func() bool { requireNoneLeft(t, pidFile); return true })

			c := f.client(t)
			require.NoError(t, c.Configure(context.Background(), "a", json.RawMessage(`{}`)))
			out, err := invoke(context.Background(), c, "a", "echo", `{"message":"still here"}`)
			require.NoError(t, err)
			require.Equal(t, "still here", out["message"])
		})
	}
}

// Closing the host gives up a handshake under way at once, with the
// plugin's whole process group, rather than waiting for the deadline.
func TestCloseGivesUpAHangingHandshake(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	f.host.startTimeout = time.Minute
	pidFile := filepath.Join(t.TempDir(), "pids")
	writeScript(t, filepath.Join(f.dir, "herald-provider-hang"), hangingPlugins["background child"], pidFile)

	errc := make(chan error, 1)
	go func() {
		_, err := f.host.Client(context.Background(), "hang")
		errc <- err
	}()
	require.Eventually(t, func() bool { return len(readPids(pidFile)) == 2 }, 10*time.Second, 10*time.Millisecond)
	within(t, 3*time.Second, "Close", func() error { return f.host.Close() })
	err := within(t, time.Second, "Client", func() error { return <-errc })
	require.ErrorIs(t, err, ErrClosed)
	requireNoneLeft(t, pidFile)
}

// The caller's context bounds a launch too.
func TestCancelGivesUpAHangingHandshake(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	f.host.startTimeout = time.Minute
	pidFile := filepath.Join(t.TempDir(), "pids")
	writeScript(t, filepath.Join(f.dir, "herald-provider-hang"), hangingPlugins["foreground child"], pidFile)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := within(t, 4*time.Second, "Spec", func() error {
		_, err := f.host.Spec(ctx, "hang")
		return err
	})
	require.ErrorContains(t, err, "launch interrupted: context deadline exceeded")
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class)
	requireNoneLeft(t, pidFile)
}

// A plugin that crashes while a child it forked holds its stdout is seen
// to exit: its group is killed and it is relaunched.
func TestCrashedPluginsChildrenAreKilled(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	echo := filepath.Join(t.TempDir(), "echo")
	require.NoError(t, os.Rename(filepath.Join(f.dir, "herald-provider-echo"), echo))
	pidFile := filepath.Join(t.TempDir(), "pids")
	writeScript(t, filepath.Join(f.dir, "herald-provider-echo"),
		fmt.Sprintf("echo $$ >> PIDFILE\nsleep 600 &\necho $! >> PIDFILE\nexec %s\n", echo), pidFile)

	c := f.client(t)
	require.NoError(t, c.Configure(context.Background(), "a", json.RawMessage(`{}`)))
	require.Equal(t, float64(1), count(t, c, "a"))
	first := readPids(pidFile)
	require.Len(t, first, 2)

	_, err := invoke(context.Background(), c, "a", "crash", `{}`)
	require.Error(t, err)
	require.Eventually(t, func() bool { return f.host.Restarts("echo") == 1 && f.host.Pid("echo") != 0 }, 10*time.Second, 20*time.Millisecond,
		"the crashed plugin was not relaunched")
	for _, pid := range first {
		require.Eventually(t, func() bool { return processGone(pid) }, 5*time.Second, 20*time.Millisecond, "pid %d outlived its plugin", pid)
	}
	require.Empty(t, groupMembers(t, first[0]))
	require.Equal(t, float64(1), count(t, c, "a"), "the relaunched plugin answers")
}

// A child that leaves the plugin's process group (setsid) is out of the
// host's reach, but holding the plugin's stdout it cannot hold the host up
// for more than pipeGrace after the group is killed.
func TestChildThatLeftTheGroupDoesNotBlock(t *testing.T) {
	t.Parallel()
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		t.Skip("needs setsid")
	}
	f := setup(t, Options{})
	f.host.startTimeout = time.Second
	pidFile := filepath.Join(t.TempDir(), "pids")
	// setsid forks when it leads a group already; $! is then its parent, so
	// the escaped sleeper writes its own pid.
	writeScript(t, filepath.Join(f.dir, "herald-provider-hang"),
		"echo $$ >> PIDFILE\n"+setsid+" sh -c 'echo $$ >> PIDFILE; exec sleep 600' &\nexec sleep 600\n", pidFile)

	err = within(t, time.Second+pipeGrace+3*time.Second, "Spec", func() error {
		_, err := f.host.Spec(context.Background(), "hang")
		return err
	})
	require.ErrorContains(t, err, "did not complete the handshake within 1s")
	require.Eventually(t, func() bool { return len(readPids(pidFile)) == 2 }, 5*time.Second, 10*time.Millisecond)
	pids := readPids(pidFile)
	require.Eventually(t, func() bool { return processGone(pids[0]) }, 5*time.Second, 20*time.Millisecond, "the plugin outlived its launch")
	require.False(t, processGone(pids[1]), "the escaped child is beyond the host's reach (killed at cleanup)")
}
