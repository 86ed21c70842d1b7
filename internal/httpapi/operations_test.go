package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

func TestRunOperationsMapTheirErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"ok", nil, http.StatusAccepted},
		{"unknown run", fmt.Errorf("run x: %w", store.ErrNotFound), http.StatusNotFound},
		{"wrong state", fmt.Errorf("run x is succeeded: %w", engine.ErrRunState), http.StatusConflict},
		{"bad argument", fmt.Errorf("%w: workflow w has no step \"nope\"", store.ErrInvalid), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, apiToken)
			f.rt.opErr = tc.err
			for _, req := range []struct{ path, body string }{
				{"/api/v1/runs/r1/retry", `{"from_step":"notify"}`},
				{"/api/v1/runs/r1/cancel", ``},
				{"/api/v1/runs/r1/resolve", `{"step":"notify","item":2,"as":"unsent"}`},
				{"/api/v1/runs/r1/signals/ack", `{"by":"alice"}`},
			} {
				w := f.do(t, "POST", req.path, strReader(req.body), bearer()...)
				require.Equal(t, tc.code, w.Code, "%s: %s", req.path, w.Body)
			}
			require.Equal(t, []string{
				`retry r1 from="notify" by=api`,
				`cancel r1 by=api`,
				`resolve r1 step=notify item=2 sent=false by=api`,
				`signal r1 name=ack data={"by":"alice"} by=api`,
			}, f.rt.ops)
		})
	}
}

func TestRunOperationsCheckTheirBodiesAndToken(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	w := f.do(t, "POST", "/api/v1/runs/r1/cancel", nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	w = f.do(t, "POST", "/api/v1/runs/r1/resolve", strReader(`{"step":"notify","as":"maybe"}`), bearer()...)
	require.Equal(t, `as must be "sent" or "unsent", not "maybe"`, errorOf(t, w, http.StatusBadRequest))
	w = f.do(t, "POST", "/api/v1/runs/r1/resolve", strReader(`{"as":"sent"}`), bearer()...)
	require.Contains(t, errorOf(t, w, http.StatusBadRequest), "step is required")
	w = f.do(t, "POST", "/api/v1/runs/r1/retry", strReader(`[1]`), bearer()...)
	require.Contains(t, errorOf(t, w, http.StatusBadRequest), "body is not the JSON object")
	w = f.do(t, "POST", "/api/v1/runs/r1/signals/ack", strReader(`{`), bearer()...)
	require.Equal(t, "signal data is not valid JSON", errorOf(t, w, http.StatusBadRequest))
	w = f.do(t, "GET", "/api/v1/runs/r1/cancel", nil, bearer()...)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Empty(t, f.rt.ops, "no refused request reached the runtime")
	w = f.do(t, "POST", "/api/v1/runs/r1/retry", nil, bearer()...)
	require.Equal(t, http.StatusAccepted, w.Code, "the body is optional")
}

// readEvent reads one server-sent event: its name and data.
func readEvent(t *testing.T, r *bufio.Reader) (string, string) {
	t.Helper()
	var name, data string
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestEventStreamsSendTransitionsAsTheyHappen(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	created := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	_, _, err := f.rt.st.CreateRun(ctx, store.Run{ID: "run-1", Workflow: "digest", Status: store.StatusQueued, CreatedAt: created}, "", 0)
	require.NoError(t, err)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/api/v1/runs/run-1/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	one := bufio.NewReader(resp.Body)
	name, data := readEvent(t, one)
	require.Equal(t, "run", name)
	require.JSONEq(t, `{"type":"run","time":"2026-03-02T08:30:00Z","run_id":"run-1","workflow":"digest","status":"queued"}`, data)

	all, err := http.Get(srv.URL + "/api/v1/events")
	require.NoError(t, err)
	defer all.Body.Close()
	allR := bufio.NewReader(all.Body)

	require.Eventually(t, func() bool {
		f.rt.events.mu.Lock()
		defer f.rt.events.mu.Unlock()
		return len(f.rt.events.subs) == 2
	}, 5*time.Second, 5*time.Millisecond)
	at := created.Add(time.Second)
	f.rt.events.publish(engine.Event{Type: engine.RunStarted, Time: at, RunID: "other", Workflow: "digest", Item: store.NoItem})
	f.rt.events.publish(engine.Event{Type: engine.StepFinished, Time: at, RunID: "run-1", Workflow: "digest", StepID: "notify",
		Item: store.NoItem, Status: "failed", Error: "token " + chatapiToken + " refused", Attempts: 2, Duration: 1500 * time.Millisecond})

	name, data = readEvent(t, one)
	require.Equal(t, "step_finished", name, "the run's stream skips other runs")
	require.JSONEq(t, `{"type":"step_finished","time":"2026-03-02T08:00:01Z","run_id":"run-1","workflow":"digest","step_id":"notify",
		"attempts":2,"status":"failed","error":"token *** refused","duration_ms":1500}`, data)
	name, _ = readEvent(t, allR)
	require.Equal(t, "run_started", name)
	name, _ = readEvent(t, allR)
	require.Equal(t, "step_finished", name)

	w := f.do(t, "GET", "/api/v1/runs/nope/events", nil)
	require.Equal(t, http.StatusNotFound, w.Code)
}
