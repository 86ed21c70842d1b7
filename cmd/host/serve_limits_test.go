package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failedRun is the part of `herald runs show --output json` these tests read.
type failedRun struct {
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Steps      []struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Attempts   int    `json:"attempts"`
		Error      string `json:"error"`
		ErrorClass string `json:"error_class"`
	} `json:"steps"`
}

func (e *serveEnv) finishedRun(id string) failedRun {
	e.t.Helper()
	var r failedRun
	e.eventually(60*time.Second, "run "+id+" finished", func() bool {
		out, err := herald(e.bin, os.Environ(), "runs", "show", id, "--dir", e.dir, "--output", "json")
		require.NoError(e.t, err, out)
		require.NoError(e.t, json.Unmarshal([]byte(out), &r), out)
		return r.Status != "queued" && r.Status != "running"
	})
	return r
}

func (e *serveEnv) healthy() bool {
	resp, err := http.Get(e.url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestServeTemplateOutputIsBounded sends the webhook that once made
// `herald serve` allocate until the kernel killed it (and again on every
// restart, resuming the run): a 317 KB body whose template repeats a 300 KB
// string once per element of a 5,000-element list, 1.5 GB. The step fails,
// permanently and naming the step and field; the host stays up and the next
// run works.
func TestServeTemplateOutputIsBounded(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "bomb" {
  trigger "webhook" { path = "bomb" }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.l.map(a, trigger.body.s).join('') }}" }
    retry { max_attempts = 3 }
  }
}`)
	e.start()
	body, err := json.Marshal(map[string]any{"l": make([]int, 5_000), "s": strings.Repeat("x", 300_000)})
	require.NoError(t, err)
	require.Greater(t, len(body), 300_000)
	code, out := e.post("/hooks/bomb", body, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)

	r := e.finishedRun(out["run_ids"].([]any)[0].(string))
	require.Equal(t, "failed", r.Status)
	require.Contains(t, r.Error, `step notify failed: with: body: "{{ trigger.body.l.map(a, trigger.body.s).join('') }}": `)
	require.Contains(t, r.Error, "join: the result would be larger than 1 MiB")
	require.Len(t, r.Steps, 1)
	require.Equal(t, "failed", r.Steps[0].Status)
	require.Equal(t, "permanent", r.Steps[0].ErrorClass)
	require.Zero(t, r.Steps[0].Attempts, "nothing was sent, nothing is retried")
	require.True(t, e.healthy(), "the host is still up")

	// The host keeps working: a small body renders and is sent.
	small, err := json.Marshal(map[string]any{"l": []int{1, 2}, "s": "ab"})
	require.NoError(t, err)
	code, out = e.post("/hooks/bomb", small, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	require.Equal(t, "succeeded", e.finishedRun(out["run_ids"].([]any)[0].(string)).Status)
	require.Equal(t, 0, e.stop())
}

// TestServeExpensiveConditionStopsAtStepTimeout runs a condition that slips
// past the load-time estimate (two loops deep) over a body large enough to
// keep a CPU busy for half a minute: the step's timeout stops it, and the
// run fails within about that timeout instead of running on.
func TestServeExpensiveConditionStopsAtStepTimeout(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "slow" {
  trigger "webhook" { path = "slow" }
  step "check" {
    uses    = "chatapi.send_message"
    if      = "trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))"
    timeout = "300ms"
    with    = { phone = "14155550123", body = "checked" }
  }
}`)
	e.start()
	body, err := json.Marshal(map[string]any{"l": make([]int, 3_000)})
	require.NoError(t, err)
	code, out := e.post("/hooks/slow", body, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)

	r := e.finishedRun(out["run_ids"].([]any)[0].(string))
	require.Equal(t, "failed", r.Status)
	require.Contains(t, r.Error, `step check failed: if: "trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))": evaluating condition: evaluation stopped: the step timeout of 300ms was reached`)
	took := r.FinishedAt.Sub(r.StartedAt)
	t.Logf("the run took %s", took)
	require.Less(t, took, 3*time.Second, "the condition stops at about the step's timeout")
	require.Empty(t, e.sandbox.Requests("chatapi"))
	require.True(t, e.healthy())
	require.Equal(t, 0, e.stop())
}
