package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/sandbox"
)

// postRaw posts body to path of the served host and returns the status and
// the raw answer.
func (e *serveEnv) postRaw(ctx context.Context, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// TestServeSynchronousWebhooks drives a served project over the chatapi
// plugin and the sandbox: a webhook with respond = "output" and a manual
// run with ?wait= answer 200 with the finished run object (the provider's
// output in it), a failed run answers 200 with status failed, a run slower
// than the wait answers 202 with its id, and a client that gives up leaves
// the host serving the next request at once.
func TestServeSynchronousWebhooks(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "sync" {
  trigger "webhook" {
    path            = "sync"
    respond         = "output"
    respond_timeout = "2s"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}
workflow "async" {
  trigger "webhook" {
    path = "async"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}`)
	e.start()
	ctx := context.Background()

	code, body, err := e.postRaw(ctx, "/hooks/sync", `{"msg":"hello"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var v engine.RunView
	require.NoError(t, json.Unmarshal(body, &v))
	require.Equal(t, "succeeded", v.Status)
	require.Len(t, v.Steps, 1)
	out, _ := json.Marshal(v.Steps[0].Output)
	require.Contains(t, string(out), `"id"`, "the provider's answer is in the step output")
	require.NotContains(t, string(body), "sandbox-token")
	require.Equal(t, v.Status, e.getView(v.RunID).Status, "the same run as GET /api/v1/runs/{id}")

	// respond defaults to accepted: 202 with the run id.
	code, body, err = e.postRaw(ctx, "/hooks/async", `{"msg":"later"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	var accepted struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, json.Unmarshal(body, &accepted))
	require.Len(t, accepted.RunIDs, 1)
	// Settled before a fault is set, so that the fault meets the next run.
	e.settled(accepted.RunIDs[0], "succeeded")

	// A manual run with ?wait= that fails answers 200 with status failed.
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", Status: 400, Body: `{"error":"phone is not on WhatsApp"}`, Count: 1})
	code, body, err = e.postRaw(ctx, "/api/v1/workflows/sync/runs?wait=10s", `{"msg":"doomed"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.NoError(t, json.Unmarshal(body, &v))
	require.Equal(t, "failed", v.Status)

	// A run slower than respond_timeout: 202 with its id, and it still
	// finishes.
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 3500, Count: 1})
	start := time.Now()
	code, body, err = e.postRaw(ctx, "/hooks/sync", `{"msg":"slow"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second)
	require.NoError(t, json.Unmarshal(body, &accepted))
	require.Len(t, accepted.RunIDs, 1)
	e.settled(accepted.RunIDs[0], "succeeded")

	// A client that gives up: the host answers the next waiting request
	// as before.
	e.sandbox.AddFault(sandbox.Fault{Provider: "chatapi", LatencyMS: 1500, Count: 1})
	gone, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, _, err = e.postRaw(gone, "/api/v1/workflows/sync/runs?wait=30s", `{"msg":"abandoned"}`)
	cancel()
	require.Error(t, err)
	code, body, err = e.postRaw(ctx, "/api/v1/workflows/sync/runs?wait=10s", `{"msg":"next"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Equal(t, 0, e.stop())
}

// TestServeSynchronousWebhooksPostgres serves the project from two replicas
// sharing a PostgreSQL store and sends every webhook to the first: a run
// the first replica executes is answered when it ends; one the second
// executes wakes no waiter on the first, which answers at respond_timeout
// after reading the run once more — 200 as well, since the run has
// finished by then.
func TestServeSynchronousWebhooksPostgres(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	const workflows = `
workflow "sync" {
  trigger "webhook" {
    path            = "sync"
    respond         = "output"
    respond_timeout = "2s"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}`
	e := newServeEnv(t, workflows)
	e.args = []string{"--store", dsn}
	e.start()
	other := &serveEnv{t: t, bin: e.bin, dir: e.dir, sandbox: e.sandbox, sbURL: e.sbURL, listen: freeAddr(t), args: e.args}
	other.url = "http://" + other.listen
	t.Cleanup(func() {
		if other.cmd != nil && other.cmd.ProcessState == nil {
			_ = other.cmd.Process.Kill()
			_ = other.cmd.Wait()
		}
	})
	other.start()

	late := 0
	for i := range 8 {
		start := time.Now()
		code, body, err := e.postRaw(context.Background(), "/hooks/sync", fmt.Sprintf(`{"msg":"m%d"}`, i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "%s", body)
		var v engine.RunView
		require.NoError(t, json.Unmarshal(body, &v))
		require.Equal(t, "succeeded", v.Status)
		if time.Since(start) >= 2*time.Second {
			late++
		}
	}
	t.Logf("%d of 8 runs were answered at respond_timeout (executed by the other replica)", late)
}
