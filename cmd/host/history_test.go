package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/testfigures"
)

// getView reads a run from the API of the served host.
func (e *serveEnv) getView(id string) engine.RunView {
	e.t.Helper()
	resp, err := http.Get(e.url + "/api/v1/runs/" + id)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	require.NotContains(e.t, string(body), "sandbox-token", "no secret in the API")
	var v engine.RunView
	require.NoError(e.t, json.Unmarshal(body, &v))
	return v
}

// showView reads a run with `herald runs show --output json`.
func (e *serveEnv) showView(id string) engine.RunView {
	e.t.Helper()
	out, err := herald(e.bin, os.Environ(), "runs", "show", id, "--dir", e.dir, "--output", "json")
	require.NoError(e.t, err, out)
	require.NotContains(e.t, out, "sandbox-token", "no secret in runs show")
	var v engine.RunView
	require.NoError(e.t, json.Unmarshal([]byte(out), &v), out)
	return v
}

// start starts a manual run of workflow with input and returns its id.
func (e *serveEnv) startRun(workflow, input string) string {
	e.t.Helper()
	code, out := e.post("/api/v1/workflows/"+workflow+"/runs", []byte(input), nil)
	require.Equal(e.t, http.StatusAccepted, code, "%v", out)
	return out["run_id"].(string)
}

// settled waits until run id is in status and returns it as both the API
// and `runs show` present it, which must agree.
func (e *serveEnv) settled(id, status string) engine.RunView {
	e.t.Helper()
	e.eventually(20*time.Second, "run "+id+" is "+status, func() bool { return e.getView(id).Status == status })
	api, cli := e.getView(id), e.showView(id)
	require.Equal(e.t, api.Status, cli.Status)
	require.Equal(e.t, api.Reason, cli.Reason)
	require.Equal(e.t, len(api.Steps), len(cli.Steps))
	a, _ := json.Marshal(api.Steps)
	c, _ := json.Marshal(cli.Steps)
	require.JSONEq(e.t, string(a), string(c), "the API and runs show agree")
	return api
}

// TestServeHistoryAnswersWhatHappenedAndOperatorsSteerRuns drives a served
// project over the real plugins and the sandbox: a fallback hop's 500s, a
// for_each item's error and the when/if reasons are in the API and in
// `runs show`; a run whose attempt hangs in the plugin is canceled within a
// second; a failed run is retried from its failing step once the fault is
// lifted; the event stream reports it live.
func TestServeHistoryAnswersWhatHappenedAndOperatorsSteerRuns(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "hop" {
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "disk full" }
    retry {
      max_attempts     = 2
      initial_interval = "10ms"
    }
    fallback {
      uses = "whatsapp_cc.send_single"
      with = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
    }
  }
}
workflow "gated" {
  when = "trigger.body.go == true"
  step "maybe" {
    uses = "chatapi.send_message"
    if   = "trigger.body.loud == true"
    with = { phone = "14155550123", body = "loud" }
  }
}
workflow "fan" {
  step "each" {
    for_each = "{{ trigger.body.phones }}"
    uses = "chatapi.send_message"
    with = { phone = "{{ item }}", body = "hello" }
    continue_on_error = true
  }
}
workflow "slow" {
  step "hang" {
    uses    = "chatapi.send_message"
    with    = { phone = "14155550123", body = "slow" }
    timeout = "5m"
  }
}
workflow "flaky" {
  step "first" {
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
  }
  step "second" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "second" }
  }
}`)
	e.start()

	t.Run("a fallback hop's 500s", func(t *testing.T) {
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", Status: 500, Count: 2})
		v := e.settled(e.startRun("hop", `{}`), "succeeded")
		s := v.Steps[0]
		require.Equal(t, "whatsapp_cc", s.Provider)
		require.Empty(t, s.Error)
		require.Len(t, s.History, 3)
		for _, h := range s.History[:2] {
			require.Equal(t, "chatapi", h.Provider)
			require.Equal(t, "send_message", h.Action)
			require.Equal(t, "retryable", h.Outcome)
			require.Contains(t, string(h.Response), `"status":500`)
			require.Contains(t, string(h.Request), `sendMessage?token=***`)
			require.Contains(t, string(h.Request), `"phone":"14155550123"`)
		}
		require.Equal(t, "whatsapp_cc", s.History[2].Provider)
		require.Equal(t, "send_single", s.History[2].Action)
		require.Equal(t, "succeeded", s.History[2].Outcome)
		require.Contains(t, string(s.History[2].Response), `"status":200`)
	})

	t.Run("when and if reasons", func(t *testing.T) {
		v := e.settled(e.startRun("gated", `{"go":false}`), "skipped")
		require.Equal(t, "skipped by when: trigger.body.go == true", v.Reason)
		require.Empty(t, v.Steps)
		v = e.settled(e.startRun("gated", `{"go":true,"loud":false}`), "succeeded")
		require.Equal(t, "skipped", v.Steps[0].Status)
		require.Equal(t, "skipped by if: trigger.body.loud == true", v.Steps[0].Reason)
	})

	t.Run("a for_each item's error", func(t *testing.T) {
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", Status: 400, Body: `{"error":"phone is not on WhatsApp"}`, Count: 1})
		v := e.settled(e.startRun("fan", `{"phones":["14155550001","14155550002","14155550003"]}`), "succeeded")
		require.Equal(t, "failed", v.Steps[0].Status, "continue_on_error lets the run go on")
		s := v.Steps[0]
		require.Len(t, s.Items, 3)
		require.Equal(t, "failed", s.Items[0].Status)
		require.Contains(t, s.Items[0].Error, "phone is not on WhatsApp")
		require.Equal(t, "succeeded", s.Items[1].Status)
		require.Equal(t, &engine.ProgressView{Done: 3, Failed: 1, Total: 3}, s.Progress)
		require.Equal(t, "permanent", s.History[0].Outcome)
		require.Equal(t, 0, *s.History[0].Item)
	})

	t.Run("cancel of a hanging attempt", func(t *testing.T) {
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 120000, Count: 1})
		id := e.startRun("slow", `{}`)
		e.eventually(10*time.Second, "the attempt is in flight", func() bool {
			v := e.getView(id)
			return len(v.Steps) == 1 && len(v.Steps[0].History) == 1
		})
		t0 := time.Now()
		code, out := e.post("/api/v1/runs/"+id+"/cancel", nil, nil)
		took := time.Since(t0)
		require.Equal(t, http.StatusAccepted, code, "%v", out)
		require.Less(t, took, time.Second, "cancel returns within a second although the plugin hangs")
		v := e.settled(id, "canceled")
		require.Equal(t, "canceled by api", v.Reason)
		require.Equal(t, "canceled", v.Steps[0].History[0].Outcome)
		require.Equal(t, "cancel", v.Operations[0].Action)
		testfigures.Report(t, fmt.Sprintf("cancel of a run whose attempt hangs in the plugin answered in %s", took.Round(time.Millisecond)))

		code, out = e.post("/api/v1/runs/"+id+"/cancel", nil, nil)
		require.Equal(t, http.StatusConflict, code, "%v", out)
	})

	t.Run("retry from the failing step, watched live", func(t *testing.T) {
		e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", Status: 400, Count: 1})
		id := e.startRun("flaky", `{}`)
		v := e.settled(id, "failed")
		require.Equal(t, "succeeded", v.Steps[0].Status)
		first := string(v.Steps[0].Output)

		resp, err := http.Get(e.url + "/api/v1/runs/" + id + "/events")
		require.NoError(t, err)
		defer resp.Body.Close()
		events := bufio.NewScanner(resp.Body)

		code, out := e.post("/api/v1/runs/"+id+"/retry", nil, nil)
		require.Equal(t, http.StatusAccepted, code, "%v", out)
		var seen []string
		for events.Scan() {
			line := events.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				seen = append(seen, name)
				if name == "run_finished" {
					break
				}
			}
		}
		require.Equal(t, []string{"run", "run_started", "step_started", "step_finished", "run_finished"}, seen)
		v = e.settled(id, "succeeded")
		require.Equal(t, 2, v.Attempt)
		require.JSONEq(t, first, string(v.Steps[0].Output), "the step that succeeded keeps its output")
		require.Len(t, v.Steps[0].History, 1, "and is not sent again")
		require.Len(t, v.Steps[1].History, 2)
		require.Equal(t, "retry", v.Operations[0].Action)
		require.Equal(t, "api", v.Operations[0].By)

		code, _ = e.post("/api/v1/runs/"+id+"/retry", nil, nil)
		require.Equal(t, http.StatusConflict, code, "a run that succeeded is not retried")
		code, _ = e.post("/api/v1/runs/"+id+"/resolve", []byte(`{"step":"second","as":"sent"}`), nil)
		require.Equal(t, http.StatusConflict, code, "only a run that needs attention is resolved")
		code, _ = e.post("/api/v1/runs/"+id+"/signals/ack", nil, nil)
		require.Equal(t, http.StatusConflict, code, "a finished run takes no signal")

		// The CLI with --server goes through the same API and reports its
		// answer.
		out2, err := herald(e.bin, os.Environ(), "runs", "signal", id, "ack", "--server", e.url)
		require.Error(t, err, out2)
		require.Contains(t, out2, "a finished run takes no signals")
		out2, err = herald(e.bin, os.Environ(), "runs", "cancel", id, "--server", e.url)
		require.Error(t, err, out2)
		require.Contains(t, out2, "it has already ended")
	})
	require.Equal(t, 0, e.stop())
}
