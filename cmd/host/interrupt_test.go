package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// interruptFixture is a project of two chatapi steps against a sandbox that
// takes latency to answer each request, and a `herald run` of it started in
// the background.
type interruptFixture struct {
	bin, proj string
	env       []string
	sb        *sandboxproviders.Sandbox
	arrived   chan struct{}
	cmd       *exec.Cmd
	stdout    *syncBuffer
	stderr    *syncBuffer
}

func startInterruptRun(t *testing.T, latency time.Duration) *interruptFixture {
	t.Helper()
	return startRun(t, latency, nil)
}

// startHeldRun is startInterruptRun with a sandbox that answers no request
// until the test ends: an attempt in flight stays in flight, however slow
// the machine.
func startHeldRun(t *testing.T) *interruptFixture {
	t.Helper()
	held := make(chan struct{})
	return startRun(t, 0, held)
}

// startRun starts the fixture; a request waits for held to close (at the
// test's end) before the sandbox answers it, when held is not nil.
func startRun(t *testing.T, latency time.Duration, held chan struct{}) *interruptFixture {
	t.Helper()
	f := &interruptFixture{bin: buildHerald(t), proj: t.TempDir(), sb: sandboxproviders.New(), arrived: make(chan struct{}, 10)}
	f.sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: int(latency / time.Millisecond)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.arrived <- struct{}{}
		if held != nil {
			<-held
		}
		f.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	timeout := ""
	if held != nil {
		// Before the server closes, which waits for the requests.
		t.Cleanup(func() { close(held) })
		// A held attempt does not end at the default 30 s timeout
		// either, while the test waits.
		timeout = `timeout = "10m"`
	}
	writeFile(t, filepath.Join(f.proj, "slow.hcl"), fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%[1]s/chatapi" }
}
workflow "slow" {
  step "first" {
    uses = "chatapi.send_message"
    with = { phone = "14155550100", body = "first" }
    %[2]s
  }
  step "second" {
    uses = "chatapi.send_message"
    with = { phone = "14155550100", body = "second" }
    %[2]s
  }
}
`, srv.URL, timeout))
	f.env = append(os.Environ(), "HERALD_SECRET_TOKEN=sandbox-token", "HERALD_PLUGIN_PATH=")
	f.stdout, f.stderr = &syncBuffer{}, &syncBuffer{}
	f.cmd = exec.Command(f.bin, "run", "slow", "--dir", f.proj)
	f.cmd.Env = f.env
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	require.NoError(t, f.cmd.Start())
	t.Cleanup(func() { _ = f.cmd.Process.Kill() })
	return f
}

// waitRequest waits for the sandbox to receive a request.
func (f *interruptFixture) waitRequest(t *testing.T) {
	t.Helper()
	select {
	case <-f.arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no request reached the sandbox; stderr:\n%s", f.stderr.String())
	}
}

// waitStderr waits until stderr matches re.
func (f *interruptFixture) waitStderr(t *testing.T, re string, within time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for !rx.MatchString(f.stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not match %q within %s:\n%s", re, within, f.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	return ee.ExitCode()
}

var runIDRe = regexp.MustCompile(`run (\w{26}): workflow slow started`)

// TestRunInterrupt sends Ctrl-C (SIGINT) to `herald run` while its first
// step is in flight: the signal is acknowledged at once, the attempt in
// flight finishes and is recorded, the second step is not sent, and the
// command prints the resume hint and exits 130. `herald runs resume` then
// finishes the run without sending the first step again.
func TestRunInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Parallel()
	f := startInterruptRun(t, 1500*time.Millisecond)
	f.waitRequest(t)
	sent := time.Now()
	require.NoError(t, f.cmd.Process.Signal(syscall.SIGINT))
	f.waitStderr(t, `herald: interrupted: stopping run \w+ after the attempt in flight; press Ctrl-C again to quit now`, time.Second)
	require.Less(t, time.Since(sent), time.Second, "the interrupt is acknowledged before the attempt ends")
	code := exitCode(t, f.cmd.Wait())
	stderr := f.stderr.String()
	require.Equal(t, exitInterrupted, code, stderr)
	m := runIDRe.FindStringSubmatch(f.stdout.String())
	require.NotNil(t, m, f.stdout.String())
	id := m[1]
	require.Contains(t, stderr, fmt.Sprintf("herald: run %s interrupted; continue it with: herald runs resume %s\n", id, id))
	require.NotContains(t, stderr, "context canceled")
	require.Contains(t, f.stdout.String(), "step first: succeeded", "the attempt in flight finished")
	require.Len(t, f.sb.Requests("chatapi"), 1, "the second step is not sent")

	out, err := herald(f.bin, f.env, "runs", "resume", id, "--dir", f.proj)
	require.NoError(t, err, out)
	require.Contains(t, out, "succeeded")
	require.Len(t, f.sb.Requests("chatapi"), 2, "resume sends only the second step")
}

// TestRunInterruptTwice: a second Ctrl-C quits at once, without waiting for
// the attempt in flight, and still says how to resume. The sandbox holds
// the attempt's request until the test ends, so the command can only exit
// while the attempt is still in flight if it does not wait for it.
func TestRunInterruptTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Parallel()
	f := startHeldRun(t)
	f.waitRequest(t)
	require.NoError(t, f.cmd.Process.Signal(syscall.SIGINT))
	// The first interrupt is taken (how soon is TestRunInterrupt's check)
	// before the second is sent.
	f.waitStderr(t, `herald: interrupted`, 30*time.Second)
	require.NoError(t, f.cmd.Process.Signal(syscall.SIGINT))
	exited := make(chan error, 1)
	go func() { exited <- f.cmd.Wait() }()
	var code int
	select {
	case err := <-exited:
		code = exitCode(t, err)
	case <-time.After(time.Minute):
		t.Fatalf("the second interrupt waits for the attempt in flight; stderr:\n%s", f.stderr.String())
	}
	require.Equal(t, exitInterrupted, code, f.stderr.String())
	require.Regexp(t, `herald: run (\w+) stopped; continue it with: herald runs resume \w+\n`, f.stderr.String())
}

// TestRunInterruptLastStep: Ctrl-C while the last step is in flight lets it
// finish; the run then ended, so the command reports it as it ended (exit 0)
// instead of failing on the cancelled context.
func TestRunInterruptLastStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Parallel()
	f := startInterruptRun(t, 1500*time.Millisecond)
	f.waitRequest(t) // first step
	f.waitRequest(t) // second and last step
	require.NoError(t, f.cmd.Process.Signal(syscall.SIGINT))
	f.waitStderr(t, `herald: interrupted`, time.Second)
	code := exitCode(t, f.cmd.Wait())
	require.Equal(t, 0, code, f.stderr.String())
	require.NotContains(t, f.stderr.String(), "context canceled")
	require.Regexp(t, `run \w+: succeeded`, f.stdout.String())
}

// TestResumeInterrupt sends Ctrl-C to `herald runs resume` while the
// resumed run's last step is in flight: the signal is acknowledged at once
// with the run's id, the attempt in flight finishes, and since it was the
// last step the command reports the run as it ended.
func TestResumeInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Parallel()
	f := startInterruptRun(t, 1500*time.Millisecond)
	f.waitRequest(t)
	require.NoError(t, f.cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, exitInterrupted, exitCode(t, f.cmd.Wait()), f.stderr.String())
	m := runIDRe.FindStringSubmatch(f.stdout.String())
	require.NotNil(t, m, f.stdout.String())
	id := m[1]

	resume := &interruptFixture{arrived: f.arrived, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	resume.cmd = exec.Command(f.bin, "runs", "resume", id, "--dir", f.proj)
	resume.cmd.Env = f.env
	resume.cmd.Stdout, resume.cmd.Stderr = resume.stdout, resume.stderr
	require.NoError(t, resume.cmd.Start())
	t.Cleanup(func() { _ = resume.cmd.Process.Kill() })
	resume.waitRequest(t)
	sent := time.Now()
	require.NoError(t, resume.cmd.Process.Signal(syscall.SIGINT))
	resume.waitStderr(t, `herald: interrupted: stopping run `+id+` after the attempt in flight; press Ctrl-C again to quit now`, time.Second)
	require.Less(t, time.Since(sent), time.Second, "the interrupt is acknowledged before the attempt ends")
	require.Equal(t, 0, exitCode(t, resume.cmd.Wait()), resume.stderr.String())
	require.Contains(t, resume.stdout.String(), "run "+id+": succeeded")
	require.NotContains(t, resume.stderr.String(), "context canceled")
	require.Len(t, f.sb.Requests("chatapi"), 2, "the resume sent the second step once")
}
