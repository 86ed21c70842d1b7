package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// syncProjectHCL has a webhook that answers with the run's output.
const syncProjectHCL = `
provider "chatapi" {
  config = { instance_id = "12345", token = "chatapi-token-zyxwvu" }
}
workflow "sync" {
  trigger "webhook" {
    path            = "sync"
    respond         = "output"
    respond_timeout = "300ms"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}
`

// subscribers is how many subscriptions to the Runtime's events are live.
func (f *fakeRuntime) subscribers() int {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	return len(f.events.subs)
}

// finishRun records run id as ended in status, as the engine does, and
// publishes its run_finished event when publish is set.
func (f *fixture) finishRun(t *testing.T, id string, status store.Status, publish bool) {
	t.Helper()
	now := time.Now().UTC()
	run, err := f.rt.st.UpdateRun(context.Background(), id, func(r *store.Run) error {
		r.Status, r.StartedAt, r.FinishedAt = status, now, now
		if status == store.StatusFailed {
			r.Error = "chatapi.send_message: 401 Unauthorized"
		}
		return nil
	})
	require.NoError(t, err)
	if publish {
		f.rt.events.publish(engine.Event{Type: engine.RunFinished, RunID: run.ID, Workflow: run.Workflow, Status: string(status), Item: store.NoItem})
	}
}

// finishWhenWaited ends the only run of the fixture in status once a
// request waits for it.
func (f *fixture) finishWhenWaited(t *testing.T, status store.Status) {
	t.Helper()
	go func() {
		// A waiting request subscribes before it creates its run.
		var runs []store.Run
		for deadline := time.Now().Add(10 * time.Second); len(runs) == 0; {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(time.Millisecond)
			n, call := f.rt.lastCall()
			if f.rt.subscribers() == 0 || n == 0 {
				continue
			}
			var err error
			if runs, err = f.rt.st.ListRuns(context.Background(), store.RunFilter{Workflow: call.Workflow, Limit: 1}); err != nil {
				return
			}
		}
		// Let the waiter read the run as still queued first.
		time.Sleep(20 * time.Millisecond)
		f.finishRun(t, runs[0].ID, status, true)
	}()
}

func TestWaitAnswersTheRunObjectWhenTheRunFinishes(t *testing.T) {
	for _, status := range []store.Status{store.StatusSucceeded, store.StatusFailed} {
		t.Run(string(status), func(t *testing.T) {
			f := setup(t, "")
			f.finishWhenWaited(t, status)
			start := time.Now()
			w := f.do(t, "POST", "/api/v1/workflows/signed/runs?wait=30s", strings.NewReader(`{"a":1}`))
			require.Less(t, time.Since(start), 10*time.Second, "woken by the run_finished event, not the 30 s timeout")
			require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
			v := decode[engine.RunView](t, w)
			require.Equal(t, string(status), v.Status)
			require.Equal(t, "signed", v.Workflow)
			// The same object GET /api/v1/runs/{id} answers.
			got := f.do(t, "GET", "/api/v1/runs/"+v.RunID, nil)
			require.Equal(t, http.StatusOK, got.Code)
			require.JSONEq(t, got.Body.String(), w.Body.String())
			require.NotContains(t, w.Body.String(), chatapiToken)
			require.Eventually(t, func() bool { return f.rt.subscribers() == 0 }, 2*time.Second, time.Millisecond, "the waiter unsubscribed")
		})
	}
}

func TestWaitSeesARunThatFinishedBeforeItSubscribed(t *testing.T) {
	f := setup(t, "")
	// The run ends before the handler can subscribe, and no event will
	// ever come: only reading the run after subscribing sees it.
	first := f.do(t, "POST", "/api/v1/workflows/signed/runs", strings.NewReader(`{}`), "Idempotency-Key", "k1")
	require.Equal(t, http.StatusAccepted, first.Code)
	id := decode[map[string]any](t, first)["run_id"].(string)
	f.finishRun(t, id, store.StatusSucceeded, false)

	start := time.Now()
	w := f.do(t, "POST", "/api/v1/workflows/signed/runs?wait=30s", strings.NewReader(`{}`), "Idempotency-Key", "k1")
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	require.Equal(t, "true", w.Header().Get("Idempotent-Replayed"))
	v := decode[engine.RunView](t, w)
	require.Equal(t, id, v.RunID, "the replay answers the first run")
	require.Equal(t, "succeeded", v.Status)
}

func TestWaitSeesARunThatEndedBeforeTriggerReturned(t *testing.T) {
	f := setup(t, "")
	// The run ends, and its event is published, before the handler gets
	// its id back: the request subscribed before it created the run.
	f.rt.created = func(id string) { f.finishRun(t, id, store.StatusSucceeded, true) }
	start := time.Now()
	w := f.do(t, "POST", "/api/v1/workflows/signed/runs?wait=30s", strings.NewReader(`{}`))
	require.Less(t, time.Since(start), 10*time.Second, "the run's end was seen, not waited out")
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	require.Equal(t, "succeeded", decode[engine.RunView](t, w).Status)
	require.Zero(t, f.rt.subscribers(), "no subscription outlives its request")
}

func TestWaitTimeoutAnswersTheRunID(t *testing.T) {
	f := setup(t, "")
	start := time.Now()
	w := f.do(t, "POST", "/api/v1/workflows/signed/runs?wait=200ms", strings.NewReader(`{}`))
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.Equal(t, http.StatusAccepted, w.Code, "body: %s", w.Body)
	body := decode[map[string]any](t, w)
	require.NotEmpty(t, body["run_id"])
	require.Equal(t, false, body["existed"])
	require.Equal(t, 0, f.rt.subscribers(), "no subscription outlives its waiters")
}

func TestWaitParameterIsChecked(t *testing.T) {
	f := setup(t, "")
	for _, c := range []struct{ query, want string }{
		{"wait=soon", `wait "soon" is not a duration such as 10s or 1m`},
		{"wait=0s", `wait "0s" must be positive`},
		{"wait=-1s", `wait "-1s" must be positive`},
		{"wait=61s", `wait "61s" is longer than the longest wait, 1m`},
		{"wait=1s&wait=2s", `query parameter "wait" is given more than once`},
	} {
		msg := errorOf(t, f.do(t, "POST", "/api/v1/workflows/signed/runs?"+c.query, strings.NewReader(`{}`)), http.StatusBadRequest)
		require.Equal(t, c.want, msg, c.query)
	}
	n, _ := f.rt.lastCall()
	require.Zero(t, n, "no run started for a bad wait")
}

func TestWaitEndsWhenTheClientGoesAway(t *testing.T) {
	f := setup(t, "")
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/workflows/signed/runs?wait=1m", strings.NewReader(`{}`))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return f.rt.subscribers() == 1 }, 5*time.Second, time.Millisecond, "the request waits")
	cancel()
	require.Error(t, <-errc)
	require.Eventually(t, func() bool { return f.rt.subscribers() == 0 }, 5*time.Second, time.Millisecond,
		"the waiter is freed when its client goes, not after the minute")
}

// TestWaitersShareOneSubscription checks that many waiting requests cost one
// subscription, and each wakes on its own run only.
func TestWaitersShareOneSubscription(t *testing.T) {
	f := setup(t, "")
	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			codes <- f.do(t, "POST", "/api/v1/workflows/signed/runs?wait=30s", strings.NewReader(`{}`)).Code
		}()
	}
	// Each waiter subscribes before it creates its run, so once the
	// store holds all n runs every waiter has subscribed. (A Trigger call
	// is counted before its run is committed: on a loaded machine the
	// commits may come long after.)
	var (
		runs []store.Run
		err  error
	)
	require.Eventually(t, func() bool {
		runs, err = f.rt.st.ListRuns(context.Background(), store.RunFilter{Limit: n + 1})
		return err == nil && len(runs) == n
	}, 10*time.Second, time.Millisecond, "every waiter created its run")
	require.NoError(t, err)
	require.Len(t, f.rt.triggerCalls(), n)
	require.Equal(t, 1, f.rt.subscribers())
	f.finishRun(t, runs[0].ID, store.StatusSucceeded, true)
	require.Equal(t, http.StatusOK, <-codes)
	select {
	case c := <-codes:
		t.Fatalf("another waiter answered %d on a run that did not finish", c)
	case <-time.After(100 * time.Millisecond):
	}
	for _, r := range runs[1:] {
		f.finishRun(t, r.ID, store.StatusSucceeded, true)
	}
	for range n - 1 {
		require.Equal(t, http.StatusOK, <-codes)
	}
	require.Eventually(t, func() bool { return f.rt.subscribers() == 0 }, 2*time.Second, time.Millisecond)
}

func TestWebhookRespondOutput(t *testing.T) {
	p, diags := config.LoadSources([]config.Source{{Name: "sync.hcl", Data: []byte(syncProjectHCL)}}, config.LoadOptions{})
	require.False(t, diags.HasErrors(), "%v", diags)
	f := setupProject(t, "", p)

	f.finishWhenWaited(t, store.StatusSucceeded)
	w := f.do(t, "POST", "/hooks/sync", strings.NewReader(`{"vip":true}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	v := decode[engine.RunView](t, w)
	require.Equal(t, "succeeded", v.Status)
	var trig map[string]any
	require.NoError(t, json.Unmarshal(v.Trigger, &trig))
	require.Equal(t, "webhook", trig["kind"])
	require.Eventually(t, func() bool { return f.rt.subscribers() == 0 }, 2*time.Second, time.Millisecond)

	// respond_timeout passes first: 202 with the run id, as without respond.
	start := time.Now()
	w = f.do(t, "POST", "/hooks/sync", strings.NewReader(`{}`), "Content-Type", "application/json")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Equal(t, http.StatusAccepted, w.Code, "body: %s", w.Body)
	require.Len(t, runIDs(t, w), 1)
}

func TestWebhookRespondsAcceptedByDefault(t *testing.T) {
	f := setup(t, "")
	start := time.Now()
	w := f.do(t, "POST", "/hooks/team/open", strings.NewReader(`{}`), "Content-Type", "application/json")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, http.StatusAccepted, w.Code)
	require.Len(t, runIDs(t, w), 1)
	require.Zero(t, f.rt.subscribers(), "an accepted webhook does not wait")
}
