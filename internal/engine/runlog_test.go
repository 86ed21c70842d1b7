package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// finishedRun returns the run carried by run id's RunFinished event.
func finishedRun(t *testing.T, events []engine.Event, id string) *engine.FinishedRun {
	t.Helper()
	for _, ev := range events {
		if ev.Type == engine.RunFinished && ev.RunID == id {
			return ev.Run
		}
	}
	t.Fatalf("run %s has no run_finished event", id)
	return nil
}

// requireSameView asserts that the run object built from what the engine
// wrote is the one the store gives back, byte for byte as the API encodes it.
func requireSameView(t *testing.T, st store.Store, fr *engine.FinishedRun, id string) *engine.RunView {
	t.Helper()
	require.NotNil(t, fr, "the run_finished event of run %s carries the run", id)
	mem, err := fr.View(context.Background())
	require.NoError(t, err)
	read, err := engine.View(context.Background(), st, id)
	require.NoError(t, err)
	want, err := json.MarshalIndent(read, "", "  ")
	require.NoError(t, err)
	got, err := json.MarshalIndent(mem, "", "  ")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	return read
}

func (b *bundle) runEvents(t *testing.T, workflow string, body any) (string, []engine.Event) {
	t.Helper()
	run, err := b.engine.Run(context.Background(), workflow, engine.Trigger{Kind: engine.KindManual, Body: body})
	require.NoError(t, err)
	return run.ID, *b.events
}

func TestFinishedRunIsTheRunObjectTheStoreGivesBack(t *testing.T) {
	t.Parallel()
	srv := providerServer(t)
	b := setup(t, `
workflow "one" {
  step "send" {
    uses = "primary.send"
    with = { to = "ops", text = "{{ trigger.body.note }}" }
  }
}
workflow "failing" {
  step "first" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "broken" {
    uses = "primary.send"
    with = { to = "b", fail_times = 3, fail_class = "retryable", retry_after = 2 }
    retry {
      max_attempts = 2
    }
  }
  step "never" {
    uses = "primary.send"
    with = { to = "c" }
  }
}
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
  step "after" {
    uses = "primary.send"
    with = { to = "{{ steps.notify.provider }}" }
  }
}
workflow "fan" {
  step "each" {
    for_each    = "{{ trigger.body.people }}"
    parallelism = 3
    uses = "primary.send"
    with = { to = "{{ item }}", fail_times = "{{ index == 1 ? 1 : 0 }}", fail_class = "permanent" }
    continue_on_error = true
  }
  step "count" {
    uses = "primary.send"
    with = { to = "{{ string(size(steps.each.output)) }}" }
  }
}
workflow "gated" {
  when = "trigger.body.go == true"
  step "maybe" {
    uses = "primary.send"
    if   = "trigger.body.send == true"
    with = { to = "x" }
  }
  step "always" {
    uses = "primary.send"
    with = { to = "{{ steps.maybe.status }}" }
  }
}`)
	cases := []struct {
		name, workflow, status string
		body                   any
	}{
		{"succeeded", "one", "succeeded", map[string]any{"note": "hello"}},
		{"failed after retries", "failing", "failed", nil},
		{"fallback with exchanges", "hop", "succeeded", map[string]any{"bad": srv.URL + "/bad", "good": srv.URL + "/good"}},
		{"for_each with a failed item", "fan", "succeeded", map[string]any{"people": []any{"p0", "p1", "p2", "p3", "p4"}}},
		{"skipped step", "gated", "succeeded", map[string]any{"go": true, "send": false}},
		{"skipped run", "gated", "skipped", map[string]any{"go": false}},
	}
	for _, c := range cases {
		id, events := b.runEvents(t, c.workflow, c.body)
		v := requireSameView(t, b.store, finishedRun(t, events, id), id)
		require.Equal(t, c.status, v.Status, c.name)
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
	b.mu.Lock()
	events := append([]engine.Event(nil), b.events...)
	b.mu.Unlock()
	v := requireSameView(t, b.store, finishedRun(t, events, run.ID), run.ID)
	require.NotNil(t, v.Steps[0].Delivery)
	require.Equal(t, "delivered", v.Steps[0].Delivery.Status)
}

func TestALargeFanOutIsReadBackNotHeld(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "fan" {
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
	id, events := b.runEvents(t, "fan", map[string]any{"people": people})
	require.Nil(t, finishedRun(t, events, id), "300 items and their attempts are more than the engine holds per run")
}
