package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestListWorkflows(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	next := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) // 09:00 in Berlin
	f.rt.next = map[string][]time.Time{"digest": {next, {}}}

	w := f.do(t, "GET", "/api/v1/workflows", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	requireNoSecret(t, w.Body.String())
	require.JSONEq(t, `{"workflows":[
	  {"name":"digest","description":"Morning on-call reminder",
	   "triggers":[
	     {"type":"cron","schedule":"0 9 * * MON-FRI","timezone":"Europe/Berlin","catchup":"latest","next_fire":"2026-03-02T09:00:00+01:00"},
	     {"type":"event","event":"chatwoot.message_created","provider":"support"}],
	   "concurrency":{"limit":1,"on_limit":"skip"},
	   "steps":["notify"]},
	  {"name":"open",
	   "triggers":[{"type":"webhook","path":"team/open","url":"/hooks/team/open","signed":false,"respond":"accepted"}],
	   "concurrency":{"limit":0,"on_limit":"queue"},
	   "steps":["notify"]},
	  {"name":"signed","description":"A signed webhook",
	   "triggers":[{"type":"webhook","path":"signed","url":"/hooks/signed","signed":true,"respond":"accepted"}],
	   "concurrency":{"limit":0,"on_limit":"queue"},
	   "steps":["notify"]}
	]}`, w.Body.String())
}

func TestListWorkflowsWithoutNextFires(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	// A runtime that knows no next fire (a scheduler not started) leaves
	// next_fire out rather than inventing one.
	w := f.do(t, "GET", "/api/v1/workflows/digest", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotContains(t, w.Body.String(), "next_fire")
}

func TestGetWorkflow(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "GET", "/api/v1/workflows/signed", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	requireNoSecret(t, w.Body.String())
	body := decode[map[string]any](t, w)
	require.Equal(t, "signed", body["name"])

	w = f.do(t, "GET", "/api/v1/workflows/nope", nil)
	require.Equal(t, `workflow "nope" not found`, errorOf(t, w, http.StatusNotFound))
}
