package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/pgstore"
	"github.com/heraldhq/herald/sdk"
)

// requireSameView asserts that the run object built from what the engine
// wrote (fr) is the one the store gives back (read), byte for byte as the
// API encodes it. bundle.run checks it for every run of the engine tests.
func requireSameView(t *testing.T, fr *engine.FinishedRun, read *engine.RunView) {
	t.Helper()
	mem, err := fr.View(context.Background())
	require.NoError(t, err)
	want, err := json.MarshalIndent(read, "", "  ")
	require.NoError(t, err)
	got, err := json.MarshalIndent(mem, "", "  ")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

// TestFinishedRunIsTheRunObjectTheStoreGivesBack checks that the runs an
// answer with respond = "output" is built for carry their run object: a
// succeeded run with a skipped step and a for_each step with a failed item,
// a run that failed after retries, and a run skipped by when. bundle.run
// compares each with the store's.
func TestFinishedRunIsTheRunObjectTheStoreGivesBack(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "mixed" {
  when = "trigger.body.go == true"
  step "quiet" {
    if   = "trigger.body.loud == true"
    uses = "primary.send"
    with = { to = "nobody" }
  }
  step "fan" {
    for_each          = "{{ trigger.body.people }}"
    parallelism       = 2
    continue_on_error = true
    uses = "primary.send"
    with = { to = "{{ item }}", fail_times = "{{ index == 1 ? 1 : 0 }}", fail_class = "permanent" }
  }
  step "last" {
    uses = "primary.send"
    with = { to = "{{ steps.fan.status }}", fail_times = "{{ trigger.body.fail }}", fail_class = "retryable" }
    retry {
      max_attempts = 2
    }
  }
}`)
	people := []any{"p0", "p1", "p2", "p3"}
	for _, c := range []struct {
		status string
		body   map[string]any
	}{
		{"succeeded", map[string]any{"go": true, "loud": false, "people": people, "fail": 0}},
		{"failed", map[string]any{"go": true, "loud": false, "people": people, "fail": 5}},
		{"skipped", map[string]any{"go": false}},
	} {
		v := b.run(t, "mixed", c.body)
		require.Equal(t, c.status, v.Status, v.Error)
		_, carried := b.finished.Load(v.RunID)
		require.True(t, carried, "the %s run's run_finished event carries the run", c.status)
		if c.status != "skipped" {
			require.Equal(t, "skipped", v.Steps[0].Status)
			require.Equal(t, "failed", v.Steps[1].Status)
			require.Len(t, v.Steps[1].Items, 4)
		}
	}
}

func TestFinishedRunReadsReceiptsRecordedWhileItRan(t *testing.T) {
	t.Parallel()
	b := setupReceipts(t, `
workflow "page" {
  step "send" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "note" {
    uses = "primary.note"
    with = { text = "sent" }
  }
}`)
	b.onStep = func(stepID string) {
		if stepID == "send" {
			_, err := b.engine.RecordReceipts(context.Background(), "primary", []sdk.Event{ack("msg-a", sdk.DeliveryDelivered)})
			require.NoError(t, err)
		}
	}
	run, err := b.engine.Run(context.Background(), "page", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	v := b.view(t, run.ID)
	require.Equal(t, "delivered", v.Steps[0].Delivery.Status)
	requireSameView(t, b.finishedRun(t, run.ID), v)
}

// finishedRun returns the run carried by run id's run_finished event.
func (b *receiptBundle) finishedRun(t *testing.T, id string) *engine.FinishedRun {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range b.events {
		if ev.Type == engine.RunFinished && ev.RunID == id {
			require.NotNil(t, ev.Run, "the run_finished event carries the run")
			return ev.Run
		}
	}
	t.Fatalf("run %s has no run_finished event", id)
	return nil
}

func TestALargeFanOutIsReadBackNotHeld(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "wide" {
  step "each" {
    for_each    = "{{ trigger.body.people }}"
    parallelism = 8
    uses = "primary.send"
    with = { to = "{{ item }}" }
  }
}`)
	people := []any{}
	for i := range 300 {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	v := b.run(t, "wide", map[string]any{"people": people})
	require.Equal(t, "succeeded", v.Status)
	_, carried := b.finished.Load(v.RunID)
	require.False(t, carried, "300 items and their attempts are more than the engine holds per run")
}

// TestFinishedRunOnPostgreSQL checks the run object of a one-step run on
// PostgreSQL, with and without the combined writes: the same values as the
// store gives back (jsonb reformats the JSON the plugin returned, so the
// bytes may differ).
func TestFinishedRunOnPostgreSQL(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	st, err := pgstore.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, commit := range []bool{true, false} {
		var fr *engine.FinishedRun
		e, _ := oneStepEngine(t, st, commit, func(ev engine.Event) {
			if ev.Type == engine.RunFinished {
				fr = ev.Run
			}
		})
		run, err := e.Run(context.Background(), "one", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}})
		require.NoError(t, err)
		require.NotNil(t, fr, "the run_finished event carries the run")
		mem, err := fr.View(context.Background())
		require.NoError(t, err)
		read, err := engine.View(context.Background(), st, run.ID)
		require.NoError(t, err)
		want, err := json.Marshal(read)
		require.NoError(t, err)
		got, err := json.Marshal(mem)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))
	}
}
