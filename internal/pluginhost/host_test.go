package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
)

const echoPkg = "github.com/heraldhq/herald/internal/testplugin/cmd/herald-provider-echo"

// logSink collects a host logger's JSON lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// entries returns the log lines decoded.
func (s *logSink) entries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// find returns the first entry whose message is msg.
func (s *logSink) find(msg string) (map[string]any, bool) {
	for _, e := range s.entries() {
		if e["@message"] == msg {
			return e, true
		}
	}
	return nil, false
}

type fixture struct {
	dir  string // holds herald-provider-echo
	host *Host
	logs *logSink
}

// setup builds the echo plugin into a fresh directory and returns a host
// searching only that directory, closed when the test ends.
func setup(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{dir: testbin.Build(t, echoPkg), logs: &logSink{}}
	if opts.Paths == nil {
		opts.Paths = []string{f.dir}
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: f.logs, JSONFormat: true})
	}
	f.host = New(opts)
	// Relaunch quickly: the tests wait on relaunches, not on timers.
	f.host.minBackoff, f.host.maxBackoff, f.host.pollInterval = 20*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { require.NoError(t, f.host.Close()) })
	return f
}

func (f *fixture) client(t *testing.T) sdk.Client {
	t.Helper()
	c, err := f.host.Client(context.Background(), "echo")
	require.NoError(t, err)
	return c
}

func invoke(ctx context.Context, c sdk.Client, instance, action, input string) (map[string]any, error) {
	out, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: instance, Action: action, Input: json.RawMessage(input), Attempt: 1})
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func count(t *testing.T, c sdk.Client, instance string) float64 {
	t.Helper()
	out, err := invoke(context.Background(), c, instance, "count", `{}`)
	require.NoError(t, err)
	return out["count"].(float64)
}

// processGone reports whether pid has exited (a zombie waiting to be reaped
// by whoever inherited it counts as exited).
func processGone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestDiscoverDescribeInvoke(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()

	infos, err := f.host.Discover(ctx)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	info := infos[0]
	path := filepath.Join(f.dir, "herald-provider-echo")
	sum, err := fileSHA256(path)
	require.NoError(t, err)
	require.Equal(t, "echo", info.Type)
	require.Equal(t, "1.0.0", info.Version)
	require.Equal(t, 2, info.Protocol, "a plugin built with this sdk negotiates protocol 2")
	require.Equal(t, path, info.Path)
	require.Equal(t, sum, info.SHA256)
	require.Equal(t, []string{"echo", "sleep", "fail", "crash", "count", "send", "log", "environ"}, info.Actions)

	spec, err := f.host.Spec(ctx, "echo")
	require.NoError(t, err)
	require.Equal(t, []string{"token", "webhook_token"}, spec.Config.SensitiveFields())
	require.Equal(t, []string{"webhook", "health"}, spec.Capabilities)

	require.NoError(t, f.host.Configure(ctx, "echo", "main", json.RawMessage(`{}`)))
	c := f.client(t)
	out, err := invoke(ctx, c, "main", "echo", `{"hello":"world","id":9007199254740993}`)
	require.NoError(t, err)
	require.Equal(t, "world", out["hello"])

	pid := f.host.Pid("echo")
	require.NotZero(t, pid)
	require.NotEqual(t, os.Getpid(), pid, "the provider runs in its own process")
	out, err = invoke(ctx, c, "main", "count", `{}`)
	require.NoError(t, err)
	require.Equal(t, float64(pid), out["pid"])
	require.NoError(t, c.Health(ctx))
}

func TestLaunchedOncePerHost(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	clients := make([]sdk.Client, 8)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.host.Client(ctx, "echo")
			if err == nil {
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	require.NoError(t, f.host.Configure(ctx, "echo", "main", json.RawMessage(`{}`)))
	for i, c := range clients {
		require.NotNil(t, c)
		require.Equal(t, float64(i+1), count(t, c, "main"), "every client reaches the same process")
	}
	require.Zero(t, f.host.Restarts("echo"))
}

func TestCrashMidCallRelaunchesAndReconfigures(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "a", json.RawMessage(`{}`)))
	require.NoError(t, c.Configure(ctx, "b", json.RawMessage(`{"webhook_token":"hook-secret"}`)))
	require.Equal(t, float64(1), count(t, c, "a"))
	require.Equal(t, float64(2), count(t, c, "a"))
	oldPid := f.host.Pid("echo")

	_, err := invoke(ctx, c, "a", "crash", `{}`)
	require.Error(t, err)
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "a call whose plugin died may have been sent: %v", err)
	require.Contains(t, err.Error(), "provider echo: plugin process "+strconv.Itoa(oldPid)+" exited during the call")
	t.Logf("crash mid-call: %v", err)

	// The next call reaches a relaunched process: the counter starts over,
	// and both instances were configured again.
	require.Equal(t, float64(1), count(t, c, "a"))
	require.Equal(t, float64(1), count(t, c, "b"))
	newPid := f.host.Pid("echo")
	require.NotEqual(t, oldPid, newPid)
	require.Equal(t, 1, f.host.Restarts("echo"))
	t.Logf("relaunched: pid %d -> %d, restarts %d", oldPid, newPid, f.host.Restarts("echo"))

	_, err = c.HandleWebhook(ctx, &sdk.WebhookRequest{Instance: "b", Body: []byte(`{}`)})
	var uv *sdk.UnverifiedError
	require.ErrorAs(t, err, &uv, "instance b came back with its webhook_token")

	e, ok := f.logs.find("plugin exited; relaunching")
	require.True(t, ok)
	require.Equal(t, "echo", e["provider"])
}

func TestKillMidCallRelaunches(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
	require.Equal(t, float64(1), count(t, c, "main"))
	pid := f.host.Pid("echo")

	type result struct {
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := invoke(ctx, c, "main", "sleep", `{"ms": 120000}`)
		done <- result{err, time.Since(start)}
	}()
	// Wait until the plugin is inside the call (it logs "sleeping"), then kill it.
	require.Eventually(t, func() bool { _, ok := f.logs.find("sleeping"); return ok }, 20*time.Second, 10*time.Millisecond)
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the call in flight did not return after its plugin was killed")
	}
	require.Error(t, r.err)
	require.Equal(t, sdk.ClassInDoubt, sdk.AsError(r.err).Class, "%v", r.err)
	require.Contains(t, r.err.Error(), "exited during the call")
	t.Logf("kill -9 of plugin pid %d mid-call: call returned %s after the kill with %s error: %v",
		pid, time.Since(killed).Round(time.Millisecond), sdk.AsError(r.err).Class, r.err)

	require.Equal(t, float64(1), count(t, c, "main"), "the next call succeeds on a relaunched, re-configured plugin")
	require.NotEqual(t, pid, f.host.Pid("echo"))
	require.Equal(t, 1, f.host.Restarts("echo"))
}

func TestIdlePluginDeathIsNoticed(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
	pid := f.host.Pid("echo")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return f.host.Restarts("echo") == 1 }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, float64(1), count(t, c, "main"))
}

func TestRelaunchBacksOffWhileThePluginCannotStart(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	f.host.stableUptime = 500 * time.Millisecond
	ctx := context.Background()
	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))

	// Swap the binary for one that exits at once, then kill the plugin.
	path := filepath.Join(f.dir, "herald-provider-echo")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\nexit 3\n"), 0o755))
	require.NoError(t, syscall.Kill(f.host.Pid("echo"), syscall.SIGKILL))

	// Relaunches fail, with growing delays, and calls fail fast meanwhile.
	require.Eventually(t, func() bool {
		n := 0
		for _, e := range f.logs.entries() {
			if e["@message"] == "plugin relaunch failed" {
				n++
			}
		}
		return n >= 3
	}, 20*time.Second, 10*time.Millisecond)
	var delays []time.Duration
	for _, e := range f.logs.entries() {
		if e["@message"] == "plugin relaunch failed" {
			delays = append(delays, time.Duration(e["after"].(float64)))
		}
	}
	require.Equal(t, []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}, delays[:3])
	start := time.Now()
	_, err = invoke(ctx, c, "main", "count", `{}`)
	require.Error(t, err)
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class)
	require.Contains(t, err.Error(), "provider echo is down")
	require.Less(t, time.Since(start), 5*time.Second)

	// Once the binary is back, a relaunch succeeds and calls work again.
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, good, 0o755))
	require.Eventually(t, func() bool { return f.host.Restarts("echo") == 1 }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, float64(1), count(t, c, "main"))

	// After running stably, the next crash is relaunched after the first
	// delay again, not the grown one.
	time.Sleep(f.host.stableUptime + 100*time.Millisecond)
	require.NoError(t, syscall.Kill(f.host.Pid("echo"), syscall.SIGKILL))
	require.Eventually(t, func() bool { return f.host.Restarts("echo") == 2 }, 20*time.Second, 10*time.Millisecond)
	var exits []time.Duration
	for _, e := range f.logs.entries() {
		if e["@message"] == "plugin exited; relaunching" {
			exits = append(exits, time.Duration(e["delay"].(float64)))
		}
	}
	require.Equal(t, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}, exits)
}

func TestCloseKillsEveryPlugin(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	_ = f.client(t)
	pid := f.host.Pid("echo")
	runDir := f.host.runDir
	require.DirExists(t, runDir)
	require.NoError(t, f.host.Close())
	require.True(t, processGone(pid), "Close waits for the plugin to exit")
	require.NoDirExists(t, runDir)
	_, err := f.host.Client(ctx, "echo")
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, f.host.Close(), "Close is idempotent")
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	h := New(Options{Paths: []string{t.TempDir()}})
	t.Cleanup(func() { _ = h.Close() })
	_, err := h.Client(context.Background(), "nope")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
	_, err = h.Client(context.Background(), "../etc")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestDiscoverSearchOrder(t *testing.T) {
	t.Parallel()
	first := testbin.Build(t, echoPkg)
	second := t.TempDir()
	// A later directory's echo is shadowed; odd files are ignored.
	require.NoError(t, os.WriteFile(filepath.Join(second, "herald-provider-echo"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(second, "herald-provider-notexec"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(second, "herald-provider-Bad.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(second, "herald-provider-dir"), 0o755))

	h := New(Options{Paths: []string{filepath.Join(t.TempDir(), "missing"), first, second}})
	t.Cleanup(func() { _ = h.Close() })
	infos, err := h.Discover(context.Background())
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, filepath.Join(first, "herald-provider-echo"), infos[0].Path)

	h2 := New(Options{Paths: []string{second, first}})
	t.Cleanup(func() { _ = h2.Close() })
	infos, err = h2.Discover(context.Background())
	require.Error(t, err, "the first echo found cannot be launched")
	require.Len(t, infos, 1)
	require.Equal(t, filepath.Join(second, "herald-provider-echo"), infos[0].Path)
	require.Error(t, infos[0].Err)
	require.NotEmpty(t, infos[0].SHA256)
}

func TestDefaultPaths(t *testing.T) {
	t.Setenv(PathEnv, "/opt/a::/opt/b")
	t.Setenv("HOME", "/home/ops")
	exe, err := os.Executable()
	require.NoError(t, err)
	require.Equal(t, []string{"/opt/a", "/opt/b", filepath.Dir(exe), "/home/ops/.local/share/herald/plugins"}, DefaultPaths())
}

func TestPluginEnvironmentIsMinimal(t *testing.T) {
	// Not parallel: it sets a variable in the host's environment.
	t.Setenv("HERALD_SECRET_CHATAPI_TOKEN", "must-not-leak")
	t.Setenv("PATH", os.Getenv("PATH"))
	f := setup(t, Options{})
	names := pluginEnvNames(t, f)
	require.NotContains(t, names, "HERALD_SECRET_CHATAPI_TOKEN")
	require.Contains(t, names, "PATH")
	allowed := map[string]bool{"TMPDIR": true, sdk.Handshake.MagicCookieKey: true}
	for _, k := range passEnv {
		allowed[k] = true
	}
	for _, n := range names {
		require.True(t, allowed[n] || strings.HasPrefix(n, "PLUGIN_"), "plugin got host variable %s", n)
	}

	// The plugin's socket lives in a directory only this user can enter.
	fi, err := os.Stat(f.host.runDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	entries, err := os.ReadDir(f.host.runDir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	sock, err := os.ReadDir(filepath.Join(f.host.runDir, entries[0].Name()))
	require.NoError(t, err)
	require.NotEmpty(t, sock, "the plugin's socket is in its private directory")
}

func TestPluginLogsReachHostLoggerAtTheirLevel(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	ctx := context.Background()
	c := f.client(t)
	require.NoError(t, c.Configure(ctx, "main", json.RawMessage(`{}`)))
	for _, level := range []string{"trace", "debug", "info", "warn", "error"} {
		_, err := invoke(ctx, c, "main", "log", `{"level":"`+level+`","message":"hello at `+level+`"}`)
		require.NoError(t, err)
	}
	for _, level := range []string{"trace", "debug", "info", "warn", "error"} {
		var e map[string]any
		require.Eventually(t, func() bool {
			var ok bool
			e, ok = f.logs.find("hello at " + level)
			return ok
		}, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, level, e["@level"])
		require.Equal(t, "provider.echo", e["@module"])
		require.Equal(t, "main", e["module"], "the plugin's own logger name is kept apart")
	}

	// A host logger at warn gets no info lines from plugins.
	warnLogs := &logSink{}
	g := setup(t, Options{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: warnLogs, JSONFormat: true})})
	gc := g.client(t)
	require.NoError(t, gc.Configure(ctx, "main", json.RawMessage(`{}`)))
	_, err := invoke(ctx, gc, "main", "log", `{"level":"info","message":"quiet"}`)
	require.NoError(t, err)
	_, err = invoke(ctx, gc, "main", "log", `{"level":"warn","message":"loud"}`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := warnLogs.find("loud"); return ok }, 10*time.Second, 10*time.Millisecond)
	_, ok := warnLogs.find("quiet")
	require.False(t, ok)
}

func TestRegisterInProcess(t *testing.T) {
	t.Parallel()
	h := New(Options{Paths: []string{}})
	t.Cleanup(func() { _ = h.Close() })
	require.NoError(t, h.Register("echo", testplugin.New()))
	require.Error(t, h.Register("echo", testplugin.New()), "a type registers once")
	ctx := context.Background()
	c, err := h.Client(ctx, "echo")
	require.NoError(t, err)
	_, isServer := c.(*sdk.Server)
	require.True(t, isServer, "in-process providers are served by sdk.Server")
	require.NoError(t, h.Configure(ctx, "echo", "main", json.RawMessage(`{}`)))
	out, err := invoke(ctx, c, "main", "echo", `{"a":1}`)
	require.NoError(t, err)
	require.Equal(t, float64(1), out["a"])
	require.Zero(t, h.Pid("echo"))

	infos, err := h.Discover(ctx)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, "echo", infos[0].Type)
	require.Empty(t, infos[0].Path)
	require.Equal(t, "1.0.0", infos[0].Version)
}

func TestUnknownInstanceAndActionAreNotPluginDeaths(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	c := f.client(t)
	_, err := invoke(context.Background(), c, "nope", "echo", `{}`)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
	require.Contains(t, err.Error(), "unknown instance")
	require.Zero(t, f.host.Restarts("echo"))
	require.False(t, errors.Is(err, ErrClosed))
	require.NoError(t, c.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	require.Equal(t, float64(1), count(t, c, "main"), "the plugin that refused the call is still the first one")
}

func TestCloseDuringFirstLaunchLeavesNoPlugin(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	errs := make(chan error, 1)
	go func() {
		_, err := f.host.Client(context.Background(), "echo")
		errs <- err
	}()
	// Close while the launch may be under way; whichever wins, no plugin
	// process survives Close and the run directory is gone.
	require.NoError(t, f.host.Close())
	f.host.mu.Lock()
	runDir := f.host.runDir
	f.host.mu.Unlock()
	if err := <-errs; err != nil {
		require.ErrorIs(t, err, ErrClosed)
	}
	require.Zero(t, f.host.Pid("echo"))
	if runDir != "" {
		require.NoDirExists(t, runDir)
	}
}
