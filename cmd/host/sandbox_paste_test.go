package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSandboxConfigValidates pastes what `herald sandbox` prints, the
// provider config and the secrets file, into a project: it validates
// without a warning (no sensitive value written in the file, no secret
// missing).
func TestSandboxConfigValidates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Parallel()
	bin := buildHerald(t)
	env := append(os.Environ(), "HERALD_PLUGIN_PATH=")
	cmd := exec.Command(bin, "sandbox", "--listen", "127.0.0.1:0")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var config, secrets strings.Builder
	var section *strings.Builder
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "sandbox output ended early")
			switch {
			case strings.HasPrefix(line, "Provider config that points at it"):
				section = &config
			case strings.HasPrefix(line, "The secrets it reads"):
				section = &secrets
			case strings.HasPrefix(line, "Press Ctrl-C"):
				done = true
			case section != nil:
				section.WriteString(line + "\n")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("herald sandbox printed no config")
		}
	}
	require.Contains(t, config.String(), `token          = "{{ secrets.CHATAPI_TOKEN }}"`)
	require.Contains(t, secrets.String(), "CHATAPI_TOKEN=sandbox-token\n")

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sandbox.hcl"), config.String()+`
workflow "hello" {
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}
`)
	envFile := filepath.Join(t.TempDir(), "sandbox.env")
	writeFile(t, envFile, secrets.String())
	out, err := herald(bin, env, "validate", "--dir", dir, "--secrets-file", envFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "is valid")
	require.NotContains(t, out, "warning", "pasting the sandbox's config validates without warnings")

	// The run goes to the sandbox and succeeds with those secrets.
	out, err = herald(bin, env, "run", "hello", "--dir", dir, "--secrets-file", envFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "succeeded")
}
