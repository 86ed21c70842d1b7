package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

const waitWorkflows = `
workflow "ack" {
  step "page" {
    uses = "primary.send"
    with = { to = "{{ run.id }}" }
  }
  step "ack" {
    wait_for {
      event   = "fake.ack"
      provider = "primary"
      match   = "event.id == steps.page.output.id && event.status == 'viewed'"
      signal  = "ack"
      timeout = "1h"
    }
  }
  step "escalate" {
    if   = "!steps.ack.output.matched"
    uses = "primary.send"
    with = { to = "backup" }
  }
}
workflow "pause" {
  step "nap" {
    wait { duration = "1h" }
  }
  step "after" {
    uses = "primary.send"
    with = { to = "{{ string(steps.nap.output.timed_out) }}" }
  }
}
`

// park runs workflow until it parks and returns the waiting run.
func park(t *testing.T, b *bundle, workflow string) store.Run {
	t.Helper()
	run, err := b.engine.Run(context.Background(), workflow, engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	return run
}

// queued creates a run of workflow that has not started: an event or a
// signal sent now arrives before any of its steps waits.
func queued(t *testing.T, b *bundle, workflow string) store.Run {
	t.Helper()
	run, _, err := b.engine.Create(context.Background(), workflow, engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	return run
}

func TestWaitForSignalResumesTheRunWithItsData(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	run := park(t, b, "ack")
	require.Contains(t, run.Reason, `step ack waits for event fake.ack from primary or signal "ack" until `)
	_, _, err := b.engine.Signal(ctx, run.ID, "nack", nil, "cli")
	require.ErrorIs(t, err, engine.ErrRunState, "no step waits for that signal")

	_, requeued, err := b.engine.Signal(ctx, run.ID, "ack", json.RawMessage(`{"by":"alice"}`), "cli")
	require.NoError(t, err)
	require.True(t, requeued)
	_, _, err = b.engine.Signal(ctx, run.ID, "ack", nil, "cli")
	require.ErrorIs(t, err, engine.ErrRunState, "a signal is taken once")
	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"matched":true,"signal":"ack","data":{"by":"alice"},"timed_out":false}`, string(v.Steps[1].Output))
	require.Equal(t, "skipped", v.Steps[2].Status, "acknowledged: no escalation")
	require.Len(t, b.fake.Calls(), 1)
}

func TestWaitForEventMatchesOnlyItsRun(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	first, second := park(t, b, "ack"), park(t, b, "ack")
	firstID := "msg-" + first.ID + "-1" // the fake's message id

	runs, err := b.engine.DeliverEvent(ctx, "primary", "fake.ack", json.RawMessage(`{"id":"`+firstID+`","status":"delivered"}`))
	require.NoError(t, err)
	require.Empty(t, runs, "the match wants viewed")
	runs, err = b.engine.DeliverEvent(ctx, "backup", "fake.ack", json.RawMessage(`{"id":"`+firstID+`","status":"viewed"}`))
	require.NoError(t, err)
	require.Empty(t, runs, "another instance's event is no candidate")
	runs, err = b.engine.DeliverEvent(ctx, "primary", "fake.ack", json.RawMessage(`{"id":"`+firstID+`","status":"viewed"}`))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, first.ID, runs[0].RunID, "only the run whose page has that id")
	got, err := b.store.GetRun(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, got.Status)

	ws := b.store.(store.Waits)
	w, err := ws.GetWait(ctx, store.StepKey{RunID: second.ID, StepID: "ack", Item: store.NoItem})
	require.NoError(t, err)
	require.Equal(t, `id="msg-`+second.ID+`-1"`, w.MatchKey, "the wait is indexed by its run's side of the match")

	run, err := b.engine.Execute(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"matched":true,"event":{"id":"`+firstID+`","status":"viewed"},"timed_out":false}`, string(v.Steps[1].Output))
}

func TestWaitForTakesAnEventFromTheInbox(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	// The run exists (queued) before the event arrives, and starts waiting
	// after it: the inbox keeps the event for it.
	run := queued(t, b, "ack")
	runs, err := b.engine.DeliverEvent(ctx, "primary", "fake.ack", json.RawMessage(`{"id":"msg-`+run.ID+`-1","status":"viewed"}`))
	require.NoError(t, err)
	require.Empty(t, runs)
	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, "the wait ended at once: %s", run.Reason)
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.Contains(t, string(v.Steps[1].Output), `"matched":true`)
	require.Equal(t, "skipped", v.Steps[2].Status)
}

func TestWaitTimesOutOnceAndTheRunGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	run := park(t, b, "pause")
	ws := b.store.(store.Waits)
	w, err := ws.GetWait(ctx, store.StepKey{RunID: run.ID, StepID: "nap", Item: store.NoItem})
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), w.Deadline, time.Minute)

	// Executing a waiting run does nothing: no goroutine holds it.
	again, err := b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, again.Status)

	key := engine.WaitKey{RunID: run.ID, StepID: "nap", Item: store.NoItem}
	requeued, err := b.engine.ResolveTimeout(ctx, key)
	require.NoError(t, err)
	require.True(t, requeued)
	requeued, err = b.engine.ResolveTimeout(ctx, key)
	require.NoError(t, err)
	require.False(t, requeued, "a second firing (another replica, a restart) changes nothing")
	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	calls := b.fake.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, "true", calls[0].Input["to"], "steps.nap.output.timed_out is in scope")
}

func TestCancelAWaitingRun(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	run := park(t, b, "pause")
	res, err := b.engine.Cancel(ctx, run.ID, "cli", time.Second)
	require.NoError(t, err)
	require.Equal(t, engine.Canceled, res)
	got, err := b.store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, got.Status)
	requeued, err := b.engine.ResolveTimeout(ctx, engine.WaitKey{RunID: run.ID, StepID: "nap", Item: store.NoItem})
	require.NoError(t, err)
	require.False(t, requeued, "the timer of a canceled run does not bring it back")
	got, err = b.store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, got.Status)
}

func TestDryRunDoesNotWait(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "nap" {
  step "nap" {
    wait { duration = "1h" }
  }
}`)
	e, err := engine.New(engine.Options{Project: b.engine.Project(), Store: b.store, DryRun: true,
		Client: func(context.Context, string) (sdk.Client, error) { return nil, errors.New("a wait calls no plugin") }})
	require.NoError(t, err)
	run, err := e.Run(context.Background(), "nap", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
	v, err := engine.View(context.Background(), b.store, run.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"matched":false,"timed_out":true}`, string(v.Steps[0].Output))
}

func TestWaitDurationsAreTemplatesRenderedWhenTheStepStarts(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "tmpl" {
  vars = {
    ack_timeout = "{{ has(trigger.body.ack_timeout) ? trigger.body.ack_timeout : '2m' }}"
    pause       = "{{ has(trigger.body.pause) ? trigger.body.pause : '90s' }}"
  }
  step "nap" {
    wait { duration = "{{ vars.pause }}" }
  }
  step "ack" {
    wait_for {
      signal  = "ack"
      timeout = "{{ vars.ack_timeout }}"
    }
  }
}
workflow "cel" {
  step "nap" {
    wait { duration = "{{ duration('45s') }}" }
  }
}`)
	ctx := context.Background()
	ws := b.store.(store.Waits)
	deadline := func(run store.Run, step string) time.Duration {
		w, err := ws.GetWait(ctx, store.StepKey{RunID: run.ID, StepID: step, Item: store.NoItem})
		require.NoError(t, err)
		return w.Deadline.Sub(w.CreatedAt)
	}

	run := park(t, b, "tmpl")
	require.Equal(t, 90*time.Second, deadline(run, "nap"), "the default of vars.pause")
	_, err := b.engine.ResolveTimeout(ctx, engine.WaitKey{RunID: run.ID, StepID: "nap", Item: store.NoItem})
	require.NoError(t, err)
	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	require.Equal(t, 2*time.Minute, deadline(run, "ack"), "the default of vars.ack_timeout")

	run, err = b.engine.Run(ctx, "tmpl", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"pause": "3s", "ack_timeout": "5s"}})
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, deadline(run, "nap"), "the input's pause")

	run = park(t, b, "cel")
	require.Equal(t, 45*time.Second, deadline(run, "nap"), "a CEL duration")

	for _, bad := range []string{"soon", "-5s", "0s"} {
		run, err = b.engine.Run(ctx, "tmpl", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"pause": bad}})
		require.NoError(t, err)
		require.Equal(t, store.StatusFailed, run.Status, bad)
		v, err := engine.View(ctx, b.store, run.ID)
		require.NoError(t, err)
		require.Contains(t, string(v.Steps[0].Error), "step nap: duration rendered", bad)
	}
}

func TestSignalSentBeforeTheStepWaitsIsKeptForIt(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	// The run exists (queued) before the signal arrives, and its ack step
	// starts waiting after it: the run's inbox keeps the signal.
	run := queued(t, b, "ack")
	_, _, err := b.engine.Signal(ctx, run.ID, "nack", nil, "cli")
	require.ErrorIs(t, err, engine.ErrRunState, "no step waits for that signal, now or later")
	key, requeued, err := b.engine.Signal(ctx, run.ID, "ack", json.RawMessage(`{"by":"early"}`), "api")
	require.NoError(t, err, "a queued run whose step will wait keeps the signal")
	require.False(t, requeued)
	require.Empty(t, key.StepID, "no wait ended yet")

	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, "the wait took the kept signal at once: %s", run.Reason)
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"matched":true,"signal":"ack","data":{"by":"early"},"timed_out":false}`, string(v.Steps[1].Output))
	require.Equal(t, "skipped", v.Steps[2].Status, "acknowledged early: no escalation")
	require.Len(t, b.fake.Calls(), 1)

	_, _, err = b.engine.Signal(ctx, run.ID, "ack", nil, "api")
	require.ErrorIs(t, err, engine.ErrRunState, "a finished run takes no signals")
	require.Contains(t, err.Error(), "finished run")
}

func TestSignalsKeptForARunAreBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, waitWorkflows)
	ctx := context.Background()
	run := queued(t, b, "ack")
	for i := range store.SignalInboxMax {
		_, _, err := b.engine.Signal(ctx, run.ID, "ack", nil, "api")
		require.NoError(t, err, "signal %d", i)
	}
	_, _, err := b.engine.Signal(ctx, run.ID, "ack", nil, "api")
	require.ErrorIs(t, err, engine.ErrRunState)
	require.ErrorIs(t, err, store.ErrInboxFull)

	// The step takes the oldest; the run finishes with the rest unused.
	run, err = b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
}
