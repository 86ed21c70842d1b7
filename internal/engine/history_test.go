package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// provider answers /bad with 500 and /good with a message id.
func providerServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"upstream down"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"m1"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHistoryRecordsEveryAttemptAndFallbackHopWithItsExchange(t *testing.T) {
	t.Parallel()
	srv := providerServer(t)
	b := setup(t, `
workflow "hop" {
  step "notify" {
    uses = "primary.post"
    with = { url = "{{ trigger.body.bad }}", text = "hello" }
    retry {
      max_attempts = 2
    }
    fallback {
      uses = "backup.post"
      with = { url = "{{ trigger.body.good }}", text = "hello" }
    }
  }
}`)
	v := b.run(t, "hop", map[string]any{"bad": srv.URL + "/bad", "good": srv.URL + "/good"})
	require.Equal(t, "succeeded", v.Status)
	s := v.Steps[0]
	require.Equal(t, "backup", s.Provider)
	require.Len(t, s.History, 3)
	for i, h := range s.History[:2] {
		require.Equal(t, i+1, h.Attempt)
		require.Equal(t, "primary", h.Provider)
		require.Equal(t, "post", h.Action)
		require.Equal(t, "retryable", h.Outcome)
		require.Contains(t, h.Error, "HTTP 500")
		require.NotNil(t, h.FinishedAt)
		require.JSONEq(t, `{"status":500,"body":{"error":"upstream down"}}`, string(h.Response))
		require.Contains(t, string(h.Request), `"url":"`+srv.URL+`/bad?token=***"`)
		require.Contains(t, string(h.Request), `"token_echo":"***"`)
	}
	last := s.History[2]
	require.Equal(t, "backup", last.Provider)
	require.Equal(t, "succeeded", last.Outcome)
	require.JSONEq(t, `{"status":200,"body":{"id":"m1"}}`, string(last.Response))
	require.Nil(t, last.Item)

	raw, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "s3cr3t-token-value")
	require.NotContains(t, string(raw), "backup-literal-token")
	var generic struct {
		Steps []map[string]json.RawMessage `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(raw, &generic))
	require.Equal(t, "null", string(generic.Steps[0]["error"]), "a step that succeeded carries error: null")
}

func TestRunAndStepReasonsSayWhySomethingWasSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "gated" {
  when = "trigger.body.go == true"
  step "notify" {
    uses = "primary.send"
    if   = "trigger.body.loud == true"
    with = { to = "ops" }
  }
}`)
	v := b.run(t, "gated", map[string]any{"go": false})
	require.Equal(t, "skipped", v.Status)
	require.Equal(t, "skipped by when: trigger.body.go == true", v.Reason)

	v = b.run(t, "gated", map[string]any{"go": true, "loud": false})
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, "skipped", v.Steps[0].Status)
	require.Equal(t, "skipped by if: trigger.body.loud == true", v.Steps[0].Reason)
	require.Empty(t, v.Steps[0].History)
}

func TestForEachReportsItemsAndProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "fan" {
  step "each" {
    for_each = "{{ [0, 1, 2] }}"
    uses = "primary.send"
    with = { to = "p{{ item }}", fail_times = "{{ item == 1 ? 9 : 0 }}", fail_class = "permanent" }
    continue_on_error = true
  }
}`)
	v := b.run(t, "fan", nil)
	s := v.Steps[0]
	require.Equal(t, "failed", s.Status)
	require.Len(t, s.Items, 3)
	require.Equal(t, "succeeded", s.Items[0].Status)
	require.Equal(t, "failed", s.Items[1].Status)
	require.Contains(t, s.Items[1].Error, "induced failure 1 of 9 (token ***)")
	require.Equal(t, &engine.ProgressView{Done: 3, Failed: 1, Total: 3}, s.Progress)
	require.Len(t, s.History, 3)
	items := map[int]string{}
	for _, h := range s.History {
		require.NotNil(t, h.Item)
		items[*h.Item] = h.Outcome
	}
	require.Equal(t, map[int]string{0: "succeeded", 1: "permanent", 2: "succeeded"}, items)
}

func TestCancelStopsAnAttemptInFlightWithinASecond(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "slow" {
  step "hang" {
    uses    = "primary.send"
    with    = { to = "ops", sleep_ms = 600000 }
    timeout = "10m"
  }
  step "after" {
    uses = "primary.send"
    with = { to = "never" }
  }
}`)
	ctx := context.Background()
	run, _, err := b.engine.Create(ctx, "slow", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := b.engine.Execute(ctx, run.ID); done <- err }()
	require.Eventually(t, func() bool {
		as, err := b.store.Attempts(ctx, run.ID)
		return err == nil && len(as) == 1 && as[0].Status == store.StatusRunning
	}, 5*time.Second, 5*time.Millisecond)

	t0 := time.Now()
	res, err := b.engine.Cancel(ctx, run.ID, "cli", 2*time.Second)
	took := time.Since(t0)
	require.NoError(t, err)
	require.Equal(t, engine.Canceled, res)
	require.Less(t, took, time.Second, "cancel returns within a second although the plugin hangs")
	require.NoError(t, <-done)

	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.Equal(t, "canceled", v.Status)
	require.Equal(t, "canceled by cli", v.Reason)
	require.Len(t, v.Steps, 1, "the step after the cancel never started")
	require.Equal(t, "canceled", v.Steps[0].Status)
	require.Equal(t, "canceled", v.Steps[0].History[0].Outcome)
	require.Len(t, v.Operations, 1)
	require.Equal(t, engine.OpCancel, v.Operations[0].Action)
	require.Equal(t, "cli", v.Operations[0].By)

	_, err = b.engine.Cancel(ctx, run.ID, "cli", time.Second)
	require.ErrorIs(t, err, engine.ErrRunState)
}

func TestCancelEndsAQueuedRunAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "w" {
  step "s" {
    uses = "primary.send"
    with = { to = "ops" }
  }
}`)
	ctx := context.Background()
	run, _, err := b.engine.Create(ctx, "w", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	_, err = b.engine.Cancel(ctx, run.ID, "api", time.Second)
	require.NoError(t, err)
	got, err := b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, got.Status)
	require.Empty(t, b.fake.Calls(), "a canceled run sends nothing")
}

func TestRetryContinuesFromTheStepThatFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "two" {
  step "first" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "second" {
    uses = "primary.send"
    with = { to = "b", fail_times = 1, fail_class = "permanent" }
  }
}`)
	ctx := context.Background()
	v := b.run(t, "two", nil)
	require.Equal(t, "failed", v.Status)
	require.Equal(t, "step second failed: induced failure 1 of 1 (token ***)", v.Reason)

	_, err := b.engine.Retry(ctx, v.RunID, "nope", "cli")
	require.ErrorIs(t, err, store.ErrInvalid)
	run, err := b.engine.Retry(ctx, v.RunID, "", "cli")
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, run.Status)
	run, err = b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	require.Equal(t, 2, run.Attempt)

	got, err := engine.View(ctx, b.store, v.RunID)
	require.NoError(t, err)
	require.JSONEq(t, string(v.Steps[0].Output), string(got.Steps[0].Output), "earlier steps keep their outputs")
	require.Len(t, got.Steps[1].History, 2)
	require.Equal(t, []string{"permanent", "succeeded"}, []string{got.Steps[1].History[0].Outcome, got.Steps[1].History[1].Outcome})
	require.Len(t, b.fake.Calls(), 3, "first once, second twice")
	require.Equal(t, engine.OpRetry, got.Operations[0].Action)
	require.Empty(t, got.Reason)

	_, err = b.engine.Retry(ctx, v.RunID, "", "cli")
	require.ErrorIs(t, err, engine.ErrRunState, "a run that succeeded is not retried")

	// A named step runs again in full, and so does every later step.
	_, err = b.engine.Cancel(ctx, v.RunID, "cli", time.Second)
	require.ErrorIs(t, err, engine.ErrRunState)
}

func TestRetryFromANamedStepRunsItAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "two" {
  step "first" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "second" {
    uses = "primary.send"
    with = { to = "b", fail_times = 1, fail_class = "permanent" }
  }
}`)
	ctx := context.Background()
	v := b.run(t, "two", nil)
	_, err := b.engine.Retry(ctx, v.RunID, "first", "console:127.0.0.1")
	require.NoError(t, err)
	run, err := b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	got, err := engine.View(ctx, b.store, v.RunID)
	require.NoError(t, err)
	require.Len(t, got.Steps[0].History, 2, "first was sent again")
	require.Equal(t, 2, got.Steps[0].History[1].Attempt)
	require.Equal(t, "from step first", got.Operations[0].Detail)
}

func TestAPoisonRunFailsInsteadOfBeingResumedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "w" {
  step "s" {
    uses = "primary.send"
    with = { to = "ops" }
  }
}`)
	ctx := context.Background()
	run, _, err := b.engine.Create(ctx, "w", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	crash := func() {
		// A host took the run and died with it: running, owned, never
		// released.
		_, err := b.store.UpdateRun(ctx, run.ID, func(r *store.Run) error {
			r.Status, r.Owner = store.StatusRunning, "crashed-host/1"
			return nil
		})
		require.NoError(t, err)
	}
	for range store.MaxResumes {
		crash()
		// The resume stops before its first step, as if it crashed too.
		stopped, cancel := context.WithCancel(ctx)
		stop := func(ev engine.Event) {
			if ev.Type == engine.RunStarted {
				cancel()
			}
		}
		b.onEvent.Store(&stop)
		_, err := b.engine.Execute(stopped, run.ID)
		require.ErrorIs(t, err, engine.ErrInterrupted)
		b.onEvent.Store(nil)
	}
	crash()
	got, err := b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, got.Status)
	require.Equal(t, "resumed 5 times without finishing; the run may crash its host", got.Reason)
	require.Empty(t, b.fake.Calls())
	ops, err := b.store.Operations(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, ops, store.MaxResumes)
	require.Equal(t, engine.OpResume, ops[0].Action)

	// An operator's retry starts a new count.
	_, err = b.engine.Retry(ctx, run.ID, "", "cli")
	require.NoError(t, err)
	got, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, got.Status)
}

func TestResolveAndSignalOnlyActOnRunsThatWait(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "w" {
  step "s" {
    uses = "primary.send"
    with = { to = "ops" }
  }
}`)
	ctx := context.Background()
	v := b.run(t, "w", nil)
	_, err := b.engine.Resolve(ctx, v.RunID, "s", store.NoItem, true, "cli")
	require.ErrorIs(t, err, engine.ErrRunState)
	require.ErrorContains(t, err, "only a run that needs attention")
	_, _, err = b.engine.Signal(ctx, v.RunID, "ack", nil, "cli")
	require.ErrorIs(t, err, engine.ErrRunState)
	_, _, err = b.engine.Signal(ctx, v.RunID, "ack", json.RawMessage(`{`), "cli")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = b.engine.Resolve(ctx, "nope", "s", store.NoItem, true, "cli")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A run stopped on an in-doubt send (as the in-doubt issue records it)
	// is settled by hand: "sent" records the step succeeded, nothing is
	// sent again, and the run goes on.
	run, _, err := b.engine.Create(ctx, "w", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	now := time.Now().UTC()
	require.NoError(t, b.store.RecordStep(ctx, store.StepRecord{StepKey: store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem},
		Status: store.StatusNeedsAttention, Attempts: 1, Provider: "primary", StartedAt: now}))
	_, err = b.store.UpdateRun(ctx, run.ID, func(r *store.Run) error {
		r.Status, r.Attempt, r.Reason = store.StatusNeedsAttention, 1, "step s: the send is in doubt"
		return nil
	})
	require.NoError(t, err)
	_, err = b.engine.Resolve(ctx, run.ID, "other", store.NoItem, true, "cli")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = b.engine.Resolve(ctx, run.ID, "s", store.NoItem, true, "cli")
	require.NoError(t, err)
	calls := len(b.fake.Calls())
	got, err := b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, got.Status)
	require.Len(t, b.fake.Calls(), calls, "a send resolved as sent is not sent again")
	ops, err := b.store.Operations(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "step s as sent", ops[0].Detail)
}
