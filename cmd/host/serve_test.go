package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
	chatwootfake "github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/internal/specfixture"
)

// serveEnv is a project served by `herald serve` as a subprocess, with the
// bundled plugins, against an in-process sandbox.
type serveEnv struct {
	t       *testing.T
	bin     string
	dir     string
	sandbox *sandboxproviders.Sandbox
	sbURL   string
	url     string
	listen  string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	// args and env are added to the command line and environment of serve.
	args, env []string
}

// providersHCL points the three bundled providers at the sandbox.
const providersHCL = `
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.CHATAPI_TOKEN }}", api_url = "%[1]s/chatapi" }
}
provider "whatsapp_cc" {
  type   = "chitchatlabs"
  config = { api_key = "{{ secrets.CCL_KEY }}", base_url = "%[1]s/chitchatlabs" }
}
provider "support" {
  type = "chatwoot"
  config = {
    base_url = "%[1]s/chatwoot", account_id = 1, inbox_id = 1
    api_access_token = "{{ secrets.CW_TOKEN }}", webhook_secret = "{{ secrets.CW_HOOK }}"
  }
}
`

func newServeEnv(t *testing.T, workflows string) *serveEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("runs herald serve as a subprocess")
	}
	bin := buildHerald(t)
	sb := sandboxproviders.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, "providers.hcl"), fmt.Sprintf(providersHCL, srv.URL))
	writeFile(t, filepath.Join(proj, "workflows.hcl"), workflows)
	writeFile(t, filepath.Join(proj, "secrets.env"), "CHATAPI_TOKEN=sandbox-token\nCCL_KEY=sandbox-api-key\nCW_TOKEN="+chatwootfake.DefaultToken+"\nCW_HOOK="+chatwootfake.DefaultWebhookSecret+"\nHOOK_SECRET=hook-secret-value\n")
	e := &serveEnv{t: t, bin: bin, dir: proj, sandbox: sb, sbURL: srv.URL, listen: freeAddr(t)}
	e.url = "http://" + e.listen
	t.Cleanup(func() {
		if e.cmd != nil && e.cmd.ProcessState == nil {
			_ = e.cmd.Process.Kill()
			_ = e.cmd.Wait()
		}
	})
	return e
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// start runs herald serve and waits until it is ready.
func (e *serveEnv) start() {
	e.t.Helper()
	e.log = &bytes.Buffer{}
	e.cmd = exec.Command(e.bin, append([]string{"serve", "--dir", e.dir, "--listen", e.listen, "--secrets-file", filepath.Join(e.dir, "secrets.env")}, e.args...)...)
	e.cmd.Env = append(append(os.Environ(), "HERALD_PLUGIN_PATH=", "HERALD_LOG_LEVEL=debug"), e.env...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	require.NoError(e.t, e.cmd.Start())
	e.eventually(30*time.Second, "herald serve became ready", func() bool {
		resp, err := http.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop sends SIGTERM and returns the exit code.
func (e *serveEnv) stop() int {
	e.t.Helper()
	require.NoError(e.t, e.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = e.cmd.Process.Kill()
		e.t.Fatalf("herald serve did not stop within 60s after SIGTERM; log:\n%s", e.log)
	}
	return e.cmd.ProcessState.ExitCode()
}

func (e *serveEnv) eventually(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s; herald log:\n%s", what, e.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *serveEnv) post(path string, body []byte, header map[string]string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

type apiRun struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Status   string `json:"status"`
	Trigger  struct {
		Kind          string    `json:"kind"`
		ScheduledTime time.Time `json:"scheduled_time"`
		Catchup       bool      `json:"catchup"`
	} `json:"trigger"`
	CreatedAt time.Time `json:"created_at"`
}

// runs reads the runs of workflow from the store with `herald runs list`,
// which works whether or not the server is up.
func (e *serveEnv) runs(workflow string) []apiRun {
	e.t.Helper()
	out, err := herald(e.bin, os.Environ(), "runs", "list", "--dir", e.dir, "--workflow", workflow, "--limit", "0", "--output", "json")
	require.NoError(e.t, err, out)
	var runs []apiRun
	require.NoError(e.t, json.Unmarshal([]byte(out), &runs), out)
	return runs
}

// run reads one run from the store with `herald runs show`.
func (e *serveEnv) run(id string) apiRun {
	e.t.Helper()
	out, err := herald(e.bin, os.Environ(), "runs", "show", id, "--dir", e.dir, "--output", "json")
	require.NoError(e.t, err, out)
	var r apiRun
	require.NoError(e.t, json.Unmarshal([]byte(out), &r), out)
	return r
}

func TestServeCronFiresOnTime(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "tick" {
  trigger "cron" {
    schedule = "* * * * * *"
  }
  step "s" {
    uses = "chatapi.status"
  }
}`)
	e.start()
	e.eventually(20*time.Second, "the 6-field cron fired 3 times", func() bool { return len(e.runs("tick")) >= 3 })
	require.Equal(t, 0, e.stop())
	runs := e.runs("tick")
	seen := map[time.Time]bool{}
	for _, r := range runs {
		require.Equal(t, "cron", r.Trigger.Kind)
		require.Equal(t, 0, r.Trigger.ScheduledTime.Nanosecond(), "fires on whole seconds")
		require.False(t, seen[r.Trigger.ScheduledTime], "one run per fire")
		seen[r.Trigger.ScheduledTime] = true
		lag := r.CreatedAt.Sub(r.Trigger.ScheduledTime)
		require.Less(t, lag, time.Second, "run created %s after its fire time", lag)
		require.GreaterOrEqual(t, lag, time.Duration(0))
	}
}

func TestServeCatchupAfterRestart(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "skip" {
  trigger "cron" {
    schedule = "* * * * * *"
    catchup  = "skip"
  }
  step "s" {
    uses = "chatapi.status"
  }
}
workflow "latest" {
  trigger "cron" {
    schedule = "* * * * * *"
    catchup  = "latest"
  }
  step "s" {
    uses = "chatapi.status"
  }
}
workflow "all" {
  trigger "cron" {
    schedule = "* * * * * *"
    catchup  = "all"
  }
  step "s" {
    uses = "chatapi.status"
  }
}`)
	e.start()
	e.eventually(20*time.Second, "every workflow fired", func() bool {
		return len(e.runs("skip")) > 0 && len(e.runs("latest")) > 0 && len(e.runs("all")) > 0
	})
	require.Equal(t, 0, e.stop())
	down := time.Now()
	time.Sleep(4 * time.Second)
	e.start()
	up := time.Now()
	e.eventually(20*time.Second, "every workflow fired after the restart", func() bool {
		return len(e.runs("skip")) > 0 && countAfter(e.runs("skip"), up) > 0 && countAfter(e.runs("all"), up) > 0
	})
	require.Equal(t, 0, e.stop())
	inGap := func(wf string) int {
		n := 0
		for _, r := range e.runs(wf) {
			if r.Trigger.Catchup {
				require.True(t, r.Trigger.ScheduledTime.After(down.Add(-time.Second)) && r.Trigger.ScheduledTime.Before(up.Add(10*time.Second)), "%s: catch-up fire %s outside the gap", wf, r.Trigger.ScheduledTime)
				n++
			}
		}
		return n
	}
	require.Zero(t, inGap("skip"), "skip drops the fires missed while down")
	require.Equal(t, 1, inGap("latest"), "latest runs the newest missed fire once")
	require.GreaterOrEqual(t, inGap("all"), 2, "all runs every missed fire")
	for _, wf := range []string{"skip", "latest", "all"} {
		seen := map[time.Time]bool{}
		for _, r := range e.runs(wf) {
			require.False(t, seen[r.Trigger.ScheduledTime], "%s: one run per fire", wf)
			seen[r.Trigger.ScheduledTime] = true
		}
	}
	t.Logf("catch-up after a %s gap: skip %d, latest %d, all %d runs in the gap", up.Sub(down).Round(time.Millisecond), inGap("skip"), inGap("latest"), inGap("all"))
}

func countAfter(runs []apiRun, t time.Time) int {
	n := 0
	for _, r := range runs {
		if r.CreatedAt.After(t) {
			n++
		}
	}
	return n
}

func TestServeWebhooksAndIdempotency(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "hook" {
  trigger "webhook" {
    path   = "alerts/db"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.text }}" }
  }
}
workflow "manual" {
  step "s" {
    uses = "chatapi.send_message"
    with = { phone = "14155550124", body = "manual" }
  }
}`)
	e.start()
	body := []byte(`{"text":"disk full"}`)
	code, out := e.post("/hooks/alerts/db", body, map[string]string{httpapi.SignatureHeader: httpapi.Sign("hook-secret-value", body)})
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	require.Len(t, out["run_ids"], 1)
	code, _ = e.post("/hooks/alerts/db", body, nil)
	require.Equal(t, http.StatusUnauthorized, code, "an unsigned webhook is refused")
	code, _ = e.post("/hooks/alerts/db", body, map[string]string{httpapi.SignatureHeader: httpapi.Sign("wrong", body)})
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = e.post("/hooks/nope", body, nil)
	require.Equal(t, http.StatusNotFound, code)
	stale := time.Now().Add(-10 * time.Minute)
	code, out2 := e.post("/hooks/alerts/db", body, map[string]string{
		httpapi.TimestampHeader: strconv.FormatInt(stale.Unix(), 10),
		httpapi.SignatureHeader: httpapi.SignTimestamped("hook-secret-value", stale, body),
	})
	require.Equal(t, http.StatusUnauthorized, code, "a replayed timestamped request is refused: %v", out2)
	require.Contains(t, out2["error"], "more than the webhook's tolerance of 5m0s")

	code, first := e.post("/api/v1/workflows/manual/runs", []byte(`{}`), map[string]string{"Idempotency-Key": "deploy-42"})
	require.Equal(t, http.StatusAccepted, code)
	code, again := e.post("/api/v1/workflows/manual/runs", []byte(`{}`), map[string]string{"Idempotency-Key": "deploy-42"})
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, first["run_id"], again["run_id"], "a repeated Idempotency-Key returns the first run")
	require.Equal(t, true, again["existed"])
	code, reused := e.post("/api/v1/workflows/manual/runs", []byte(`{"other":"body"}`), map[string]string{"Idempotency-Key": "deploy-42"})
	require.Equal(t, http.StatusUnprocessableEntity, code, "the key reused for another body: %v", reused)
	require.Contains(t, reused["error"], "Idempotency-Key reused with a different request body")

	e.eventually(10*time.Second, "both runs succeeded", func() bool {
		return e.run(out["run_ids"].([]any)[0].(string)).Status == "succeeded" && e.run(first["run_id"].(string)).Status == "succeeded"
	})
	require.Len(t, e.sandbox.Requests("chatapi"), 2, "one send per distinct trigger")
	require.Equal(t, 0, e.stop())
}

func TestServeChatwootEventStartsOneRun(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "autoreply" {
  trigger "event" {
    event    = "chatwoot.message_created"
    provider = "support"
  }
  when = "trigger.event.message_type == 'incoming'"
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "New message: {{ trigger.event.content }}" }
  }
}`)
	e.start()
	body := specfixture.Read(t, "chatwoot", "webhook_message_created.json")
	ts := time.Now().Unix()
	header := map[string]string{
		"X-Chatwoot-Timestamp": strconv.FormatInt(ts, 10),
		"X-Chatwoot-Signature": chatwootfake.Sign(chatwootfake.DefaultWebhookSecret, ts, body),
		"X-Chatwoot-Delivery":  "delivery-0001",
	}
	code, out := e.post("/providers/support/webhook", body, header)
	require.Equal(t, http.StatusOK, code, "%v", out)
	require.Len(t, out["run_ids"], 1)
	runID := out["run_ids"].([]any)[0].(string)

	code, replay := e.post("/providers/support/webhook", body, header)
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, replay["run_ids"], "a replayed delivery starts no run")

	bad := map[string]string{"X-Chatwoot-Timestamp": header["X-Chatwoot-Timestamp"], "X-Chatwoot-Signature": "sha256=00", "X-Chatwoot-Delivery": "delivery-0002"}
	code, _ = e.post("/providers/support/webhook", body, bad)
	require.Equal(t, http.StatusUnauthorized, code)

	e.eventually(10*time.Second, "the event's run succeeded", func() bool { return e.run(runID).Status == "succeeded" })
	reqs := e.sandbox.Requests("chatapi")
	require.Len(t, reqs, 1)
	require.Contains(t, string(reqs[0].Body), "New message: Hi, I need help with order #1042")
	require.Equal(t, 0, e.stop())
}

func TestServeSigtermMidRunResumesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "three" {
  step "a" {
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "14155550001" }, fb_template = "first", language = "en" }
  }
  step "b" {
    uses = "chatapi.send_message"
    with = { phone = "14155550002", body = "second" }
  }
  step "c" {
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "14155550003" }, fb_template = "third", language = "en" }
  }
}`)
	// Step b takes 3 s at the provider: SIGTERM lands while it is in flight.
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 3000})
	e.start()
	code, out := e.post("/api/v1/workflows/three/runs", nil, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	runID := out["run_id"].(string)
	e.eventually(10*time.Second, "step a was sent", func() bool { return len(e.sandbox.Requests("chitchatlabs")) == 1 })
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 0, e.stop(), "SIGTERM exits 0")
	require.Len(t, e.sandbox.Requests("chatapi"), 1, "the step in flight finished before the host stopped")
	require.Len(t, e.sandbox.Requests("chitchatlabs"), 1, "no step started after SIGTERM")
	require.Contains(t, e.log.String(), "shutting down")

	e.start()
	e.eventually(15*time.Second, "the run completed after the restart", func() bool { return e.run(runID).Status == "succeeded" })
	require.Len(t, e.sandbox.Requests("chatapi"), 1, "step b, recorded before the stop, is not sent again")
	require.Len(t, e.sandbox.Requests("chitchatlabs"), 2, "step c ran once, after the restart")
	require.True(t, strings.Contains(string(e.sandbox.Requests("chitchatlabs")[1].Body), "third"))
	require.Equal(t, 0, e.stop())
}
