//go:build unix

package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testbin"
)

const echoPluginPkg = "github.com/heraldhq/herald/internal/testplugin/cmd/herald-provider-echo"

// hangEnv is herald with two plugins on HERALD_PLUGIN_PATH: the echo test
// plugin and herald-provider-hang, a shell script that forks a child holding
// its stdout and never completes the handshake. The script appends its pid
// (the leader of its process group) and its child's to pidFile.
type hangEnv struct {
	t       *testing.T
	bin     string
	plugins string
	hang    string
	pidFile string
	env     []string
}

func newHangEnv(t *testing.T, startTimeout string) *hangEnv {
	t.Helper()
	dir := testbin.Build(t, "github.com/heraldhq/herald/cmd/host", echoPluginPkg)
	e := &hangEnv{t: t, bin: filepath.Join(dir, "host"), plugins: t.TempDir(), pidFile: filepath.Join(t.TempDir(), "pids")}
	require.NoError(t, os.Rename(filepath.Join(dir, "herald-provider-echo"), filepath.Join(e.plugins, "herald-provider-echo")))
	e.hang = filepath.Join(e.plugins, "herald-provider-hang")
	script := "#!/bin/sh\necho $$ >> " + e.pidFile + "\nsleep 600 &\necho $! >> " + e.pidFile + "\nexec sleep 600\n"
	require.NoError(t, os.WriteFile(e.hang, []byte(script), 0o755))
	// Whatever happens, leave no sleeper behind.
	t.Cleanup(func() {
		for _, pid := range e.pids() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	e.env = append(os.Environ(), "HERALD_PLUGIN_PATH="+e.plugins, "HOME="+t.TempDir(), "HERALD_PLUGIN_START_TIMEOUT="+startTimeout)
	return e
}

func (e *hangEnv) pids() []int {
	b, _ := os.ReadFile(e.pidFile)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// run runs herald and fails the test if it does not exit within limit.
func (e *hangEnv) run(limit time.Duration, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.env
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	require.NoError(e.t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	start := time.Now()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("herald %s did not return within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, &out, &errb)
	}
	e.t.Logf("herald %s returned in %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// requireGroupGone checks that the hanging plugin and its child have exited
// and that no process is left in its process group.
func (e *hangEnv) requireGroupGone() {
	e.t.Helper()
	// Each launch writes the plugin's pid and its child's. A reload may
	// launch the plugin a second time right after refusing the project,
	// which its own handshake deadline ends: wait out one more deadline,
	// re-reading the pids, until no process of any launch is left.
	require.NotEmpty(e.t, e.pids(), "the hanging plugin never started")
	alive := func() []int {
		var left []int
		pids := e.pids()
		for _, pid := range pids {
			if !exited(pid) {
				left = append(left, pid)
			}
		}
		// kill -0 of each launch's group: it fails once no process of it
		// is left.
		for i := 0; i+1 < len(pids); i += 2 {
			if syscall.Kill(-pids[i], 0) == nil && !groupExited(pids[i]) {
				left = append(left, -pids[i])
			}
		}
		return left
	}
	deadline := time.Now().Add(5*time.Second + 3*time.Second) // the tests' start timeout, and a margin
	for len(alive()) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("the hanging plugin's processes outlived herald: %v still running (negative: a group); launches: %d", alive(), len(e.pids())/2)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited reports whether pid has exited; a zombie nobody reaped yet has.
func exited(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	return procState(pid) == "Z"
}

// groupExited reports whether every process of group pgid is a zombie.
func groupExited(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		fields := procStat(pid)
		if len(fields) >= 3 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}

// procStat returns the fields of /proc/pid/stat after the command name:
// state, ppid, pgrp and on.
func procStat(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func procState(pid int) string {
	if f := procStat(pid); len(f) > 0 {
		return f[0]
	}
	return ""
}

// `herald plugins list` with a plugin that hangs in the handshake returns
// after the start timeout, lists the good plugin, reports the bad one by path
// and deadline, exits 1, and leaves none of the bad plugin's processes.
func TestPluginsListWithAHangingPlugin(t *testing.T) {
	t.Parallel()
	e := newHangEnv(t, "5s")
	stdout, stderr, code := e.run(20*time.Second, "plugins", "list", "--dir", t.TempDir())
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Regexp(t, `(?m)^echo +1\.0\.0 +2 +`+regexp.QuoteMeta(filepath.Join(e.plugins, "herald-provider-echo"))+` +[0-9a-f]{12} +echo, sleep, `, stdout)
	require.Regexp(t, `(?m)^hang +- +- +`+regexp.QuoteMeta(e.hang)+` +[0-9a-f]{12} +\(unavailable\)$`, stdout)
	require.Contains(t, stderr, "herald: launch plugin herald-provider-hang at "+e.hang+": did not complete the handshake within 5s")
	e.requireGroupGone()
}

// `herald validate` of a project using a plugin that hangs reports that
// provider at its declaration and still checks the steps of the good one.
func TestValidateWithAHangingPlugin(t *testing.T) {
	t.Parallel()
	e := newHangEnv(t, "5s")
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, "main.hcl"), `provider "echo" {
  config = {}
}
provider "hang" {
  config = {}
}
workflow "w" {
  step "a" {
    uses = "echo.sleep"
    with = {}
  }
  step "b" {
    uses = "hang.anything"
    with = {}
  }
}
`)
	stdout, stderr, code := e.run(20*time.Second, "validate", "--dir", proj)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stderr, `main.hcl:4:10: provider "hang": launch plugin herald-provider-hang at `+e.hang+": did not complete the handshake within 5s")
	require.Contains(t, stderr, "with.ms of echo.sleep: required field is missing", "the good plugin's schema is checked")
	e.requireGroupGone()
}

// `herald serve` stops on SIGTERM while a plugin hangs in its handshake,
// long before the handshake deadline, and kills the plugin's group.
func TestServeStopsWhileAPluginHangs(t *testing.T) {
	t.Parallel()
	e := newHangEnv(t, "5m")
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, "main.hcl"), `provider "hang" {
  config = {}
}
workflow "w" {
  step "b" {
    uses = "hang.anything"
  }
}
`)
	var log bytes.Buffer
	cmd := exec.Command(e.bin, "serve", "--dir", proj, "--listen", freeAddr(t))
	cmd.Env = e.env
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	deadline := time.Now().Add(30 * time.Second)
	for len(e.pids()) < 2 {
		require.True(t, time.Now().Before(deadline), "the hanging plugin was never started; log:\n%s", &log)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // well into the handshake
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	stopped := time.Now()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("herald serve did not exit within 5s of SIGTERM while a plugin hung; log:\n%s", &log)
	}
	t.Logf("herald serve exited %s after SIGTERM (code %d); log:\n%s", time.Since(stopped).Round(time.Millisecond), cmd.ProcessState.ExitCode(), &log)
	e.requireGroupGone()
}

// A hot reload that brings in a plugin hanging in its handshake fails after
// the start timeout, naming the plugin; herald keeps serving the previous
// project and stops promptly on SIGTERM.
func TestServeReloadWithAHangingPlugin(t *testing.T) {
	t.Parallel()
	e := newHangEnv(t, "5s")
	proj := t.TempDir()
	good := `provider "echo" {
  config = {}
}
workflow "w" {
  step "a" {
    uses = "echo.echo"
  }
}
`
	writeFile(t, filepath.Join(proj, "main.hcl"), good)
	listen := freeAddr(t)
	var log syncBuffer
	cmd := exec.Command(e.bin, "serve", "--dir", proj, "--listen", listen)
	cmd.Env = e.env
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	waitFor := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s; log:\n%s", what, log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ready := func() bool {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	waitFor(30*time.Second, "herald serve is ready", ready)

	writeFile(t, filepath.Join(proj, "main.hcl"), good+`provider "hang" {
  config = {}
}
`)
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	reloaded := time.Now()
	want := `provider "hang": launch plugin herald-provider-hang at ` + e.hang + `: did not complete the handshake within 5s`
	waitFor(20*time.Second, "the reload failed", func() bool { return strings.Contains(log.String(), want) })
	t.Logf("reload refused %s after SIGHUP", time.Since(reloaded).Round(time.Millisecond))
	// The diagnostic and the summary are two log lines: wait for the second.
	waitFor(5*time.Second, "the reload says the previous version is still served", func() bool {
		return strings.Contains(log.String(), "still serving the previous version")
	})
	require.True(t, ready(), "herald still serves")
	e.requireGroupGone()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("herald serve did not exit within 5s of SIGTERM; log:\n%s", log.String())
	}
	require.Equal(t, 0, cmd.ProcessState.ExitCode(), log.String())
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
