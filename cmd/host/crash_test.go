package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestKilledRunResumes kills `herald run` (kill -9) in the middle of a
// 1,000-item for_each step and resumes the run with `herald runs resume`:
// every item reaches the provider, and only items that were in flight at the
// kill may reach it twice.
func TestKilledRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a 1,000-item workflow")
	}
	t.Parallel()
	const items, parallelism = 1000, 8
	bin := buildHerald(t)

	sb := sandboxproviders.New()
	// Slow every send a little so the kill lands mid-way.
	sb.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 5})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, "blast.hcl"), fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%s/chatapi" }
}
workflow "blast" {
  step "each" {
    for_each    = "{{ trigger.body.phones }}"
    parallelism = %d
    uses = "chatapi.send_message"
    with = { phone = "{{ item }}", body = "item {{ index }}" }
  }
}
`, srv.URL, parallelism))
	phones := make([]string, items)
	for i := range phones {
		phones[i] = fmt.Sprintf("1415%07d", i)
	}
	input, _ := json.Marshal(map[string]any{"phones": phones})
	writeFile(t, filepath.Join(proj, "input.json"), string(input))
	// A short heartbeat, so the killed run shows interrupted quickly.
	env := append(os.Environ(), "HERALD_SECRET_TOKEN=sandbox-token", "HERALD_PLUGIN_PATH=", "HERALD_HEARTBEAT_INTERVAL=100ms")

	run := exec.Command(bin, "run", "blast", "--dir", proj, "--input", "@"+filepath.Join(proj, "input.json"))
	run.Env = env
	require.NoError(t, run.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for len(sb.Requests("chatapi")) < items/3 {
		require.True(t, time.Now().Before(deadline), "the run never got a third of the way")
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, run.Process.Kill())
	_ = run.Wait()
	atKill := len(sb.Requests("chatapi"))
	require.Less(t, atKill, items, "the run finished before it was killed")

	// Once its owner's heartbeat is three intervals old, the run that
	// nothing executes any more shows interrupted.
	var runs []struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	require.Eventually(t, func() bool {
		out, err := herald(bin, env, "runs", "list", "--dir", proj, "--status", "interrupted", "--output", "json")
		require.NoError(t, err, out)
		require.NoError(t, json.Unmarshal([]byte(out), &runs), out)
		return len(runs) == 1
	}, 10*time.Second, 100*time.Millisecond, "the killed run shows interrupted")
	require.Equal(t, "interrupted", runs[0].Status)
	require.Contains(t, runs[0].Reason, "herald runs resume")
	out, err := herald(bin, env, "runs", "show", runs[0].RunID, "--dir", proj)
	require.NoError(t, err, out)
	require.Contains(t, out, "status interrupted")

	// A run left needing attention exits 1 and says how to resolve it.
	settledOrWaiting := func(out string, err error) {
		t.Helper()
		if err != nil {
			require.Contains(t, out, "needs attention", out)
			return
		}
		require.Contains(t, out, "succeeded")
	}
	out, err = herald(bin, env, "runs", "resume", runs[0].RunID, "--dir", proj)
	settledOrWaiting(out, err)

	counts := func() map[string]int {
		counts := map[string]int{}
		for _, r := range sb.Requests("chatapi") {
			if r.Method != http.MethodPost {
				continue // a reconcile's lookup, not a send
			}
			var body struct {
				Phone string `json:"phone"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &body))
			counts[body.Phone]++
		}
		return counts
	}
	// The sends in flight at the kill are in doubt. An action that
	// reconciles settles them itself; one that cannot leaves the run
	// needs_attention, and the operator settles each item with runs
	// resolve, having checked (here: in the sandbox) whether it went out.
	resolved := 0
	for i := 0; ; i++ {
		out, err = herald(bin, env, "runs", "show", runs[0].RunID, "--dir", proj, "--output", "json")
		require.NoError(t, err, out)
		var shown struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
			Steps  []struct {
				Items []struct {
					Index  int    `json:"index"`
					Status string `json:"status"`
				} `json:"items"`
			} `json:"steps"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &shown), out)
		if shown.Status != "needs_attention" {
			require.Equal(t, "succeeded", shown.Status, shown.Reason)
			break
		}
		require.Less(t, i, parallelism+1, "more items in doubt than were in flight")
		require.Contains(t, shown.Reason, "herald runs resolve "+runs[0].RunID+" --step each --item ")
		sent := counts()
		for _, it := range shown.Steps[0].Items {
			if it.Status != "needs_attention" {
				continue
			}
			as := "unsent"
			if sent[phones[it.Index]] > 0 {
				as = "sent"
			}
			out, err = herald(bin, env, "runs", "resolve", runs[0].RunID, "--step", "each", "--item", strconv.Itoa(it.Index), "--as", as, "--dir", proj)
			settledOrWaiting(out, err)
			resolved++
			break
		}
	}

	lost, duplicates := 0, 0
	delivered := counts()
	for _, p := range phones {
		switch n := delivered[p]; {
		case n == 0:
			lost++
		case n > 1:
			duplicates += n - 1
		}
	}
	msg := fmt.Sprintf("crash test: %d items, killed after %d deliveries, parallelism %d: lost %d, duplicates %d, in-doubt items resolved by hand %d", items, atKill, parallelism, lost, duplicates, resolved)
	testfigures.Report(t, msg)
	require.Zero(t, lost, "every item is delivered")
	require.Zero(t, duplicates, "an in-doubt send is reconciled or settled by hand, never resent blindly")

	out, err = herald(bin, env, "runs", "show", runs[0].RunID, "--dir", proj, "--output", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"status": "succeeded"`)
	// The resume is in the run's operation log: its owner died with it.
	require.Contains(t, out, `"action": "resume"`)
}

// buildHerald builds herald and the three bundled plugins into one
// directory, where herald discovers the plugins beside its executable, and
// returns herald's path.
func buildHerald(t *testing.T) string {
	t.Helper()
	dir := testbin.Build(t, append([]string{"github.com/heraldhq/herald/cmd/host"}, bundledPlugins...)...)
	require.NoError(t, os.Rename(filepath.Join(dir, "host"), filepath.Join(dir, "herald")))
	for _, pkg := range bundledPlugins {
		name := filepath.Base(pkg)
		require.NoError(t, os.Rename(filepath.Join(dir, name), filepath.Join(dir, "herald-provider-"+name)))
	}
	return filepath.Join(dir, "herald")
}

func herald(bin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}
