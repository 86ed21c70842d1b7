package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// earlyWorkflow waits the given duration before its wait_for on the signal
// ack, so a signal sent meanwhile arrives before that step waits.
const earlyWorkflow = `
workflow "early" {
  step "settle" {
    wait { duration = "%s" }
  }
  step "ack" {
    wait_for {
      signal  = "ack"
      timeout = "10m"
    }
  }
}
`

// TestServeKeepsASignalSentBeforeItsStepWaits sends a signal to a served
// run while an earlier step holds it (a wait, then a wait_for on the
// signal): the API accepts it (202), the run's inbox keeps it, and the
// wait_for takes it the moment it starts, long before its timeout. A
// signal to the finished run is refused (409).
func TestServeKeepsASignalSentBeforeItsStepWaits(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, fmt.Sprintf(earlyWorkflow, "3s"))
	e.start()
	id := e.startRun("early", `{}`)
	e.eventually(20*time.Second, "the run waits in its first step", func() bool {
		v := e.getView(id)
		return v.Status == "waiting" && len(v.Steps) == 1
	})
	code, out := e.post("/api/v1/runs/"+id+"/signals/nack", nil, nil)
	require.Equal(t, http.StatusConflict, code, "no step waits for nack: %v", out)
	code, out = e.post("/api/v1/runs/"+id+"/signals/ack", []byte(`{"by":"alice"}`), nil)
	require.Equal(t, http.StatusAccepted, code, "the ack step will wait for it: %v", out)

	v := e.settled(id, "succeeded")
	require.Len(t, v.Steps, 2)
	require.JSONEq(t, `{"matched":true,"signal":"ack","data":{"by":"alice"},"timed_out":false}`, string(v.Steps[1].Output))
	require.Equal(t, "signal", v.Operations[0].Action)
	require.Contains(t, v.Operations[0].Detail, "kept until a step waits for it")

	code, out = e.post("/api/v1/runs/"+id+"/signals/ack", nil, nil)
	require.Equal(t, http.StatusConflict, code, "a finished run takes no signals: %v", out)
	require.Equal(t, 0, e.stop())
}

// TestRunsSignalKeepsASignalWithoutAServer signals, with no herald serve,
// a run whose wait_for has not started waiting (it waits an hour in an
// earlier step): runs signal says the signal is kept and leaves the run
// waiting where it is, instead of executing it in the foreground.
func TestRunsSignalKeepsASignalWithoutAServer(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, fmt.Sprintf(earlyWorkflow, "1h"))
	env := append(os.Environ(), "HERALD_API_URL=")
	secrets := filepath.Join(e.dir, "secrets.env")
	out, err := herald(e.bin, env, "run", "early", "--dir", e.dir, "--secrets-file", secrets, "--output", "json")
	require.NoError(t, err, out)
	var run struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	// Progress goes to stderr, which herald() mixes in; the object is last.
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "\n{")+1:]), &run), out)
	require.Equal(t, "waiting", run.Status)

	out, err = herald(e.bin, env, "runs", "signal", run.RunID, "ack", "--data", `{"by":"bob"}`, "--dir", e.dir, "--secrets-file", secrets)
	require.NoError(t, err, out)
	require.Contains(t, out, "run "+run.RunID+": signal ack kept until a step waits for it")
	v := e.showRun(run.RunID)
	require.Equal(t, "waiting", v.Status)
	require.Len(t, v.Steps, 1, "the run stays in its first step")

	out, err = herald(e.bin, env, "runs", "signal", run.RunID, "nack", "--dir", e.dir, "--secrets-file", secrets)
	require.Error(t, err, "no step waits for nack: %s", out)
	require.Contains(t, out, `no step of workflow early waits for signal "nack" now or later`)
}
