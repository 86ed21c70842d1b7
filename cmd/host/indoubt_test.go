package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
)

// TestServeSettlesAnInDoubtSendThroughTheAPI drives herald serve with a
// ChitChatLabs send (no reconcile handler) whose response never arrives
// within the step's timeout while the sandbox still delivers it: the run
// stops needs_attention naming the step, POST /api/v1/runs/{id}/resolve
// with "as":"sent" finishes it without sending again, and a second such run
// resolved "unsent" through the CLI's --server sends it once more.
func TestServeSettlesAnInDoubtSendThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newServeEnv(t, `
workflow "page" {
  step "notify" {
    uses    = "whatsapp_cc.send_single"
    with    = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
    timeout = "300ms"
  }
}
`)
	e.start()
	sends := func() int { return len(e.sandbox.Requests("chitchatlabs")) }

	e.sandbox.AddFault(sandbox.Fault{Provider: "chitchatlabs", LatencyMS: 5000, Count: 1})
	id := e.startRun("page", `{}`)
	v := e.settled(id, "needs_attention")
	require.Contains(t, v.Reason, "step notify: the send is in doubt")
	require.Contains(t, v.Reason, "herald runs resolve "+id+" --step notify --as sent|unsent")
	require.Equal(t, "needs_attention", v.Steps[0].Status)
	require.Equal(t, "in_doubt", v.Steps[0].History[0].Outcome)
	e.eventually(10*time.Second, "the sandbox took the message", func() bool { return sends() == 1 })

	code, out := e.post("/api/v1/runs/"+id+"/resolve", []byte(`{"step":"notify","as":"sent"}`), nil)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	v = e.settled(id, "succeeded")
	require.JSONEq(t, `null`, string(v.Steps[0].Output), "a send resolved as sent has no output")
	require.Equal(t, 1, sends(), "nothing is sent again")
	require.Equal(t, "resolve", v.Operations[0].Action)

	e.sandbox.AddFault(sandbox.Fault{Provider: "chitchatlabs", LatencyMS: 5000, Count: 1})
	id = e.startRun("page", `{}`)
	e.settled(id, "needs_attention")
	e.eventually(10*time.Second, "the sandbox took the message", func() bool { return sends() == 2 })
	out2, err := herald(e.bin, os.Environ(), "runs", "resolve", id, "--step", "notify", "--as", "unsent", "--server", e.url)
	require.NoError(t, err, out2)
	v = e.settled(id, "succeeded")
	require.Equal(t, 3, sends(), "unsent: sent once more")
	var outcomes []string
	for _, h := range v.Steps[0].History {
		outcomes = append(outcomes, h.Outcome)
	}
	require.Equal(t, "in_doubt,succeeded", strings.Join(outcomes, ","))
}
