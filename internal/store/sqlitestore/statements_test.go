package sqlitestore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestOneStepRunStatements counts the statements the writer runs for a
// webhook's one-step run made alone, as the engine's eager start makes it:
// the create with its idempotency key and the attempt's start in one
// transaction (BEGIN, the key's claim, the run, the step record with its
// first attempt, COMMIT), then the result in another (BEGIN, the run, the
// step record with its first attempt and the message it sent, COMMIT). A
// run created with a key its first run still holds writes nothing and
// reads once.
func TestOneStepRunStatements(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTemp(t)
	now := time.Now()
	run := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusRunning, Attempt: 1,
		Owner: "host-a", Trigger: json.RawMessage(`{"kind":"webhook"}`), CreatedAt: now, StartedAt: now, HeartbeatAt: now}
	key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}

	execs := s.w.execs.Load()
	_, existed, err := s.CreateStartAttemptRun(ctx, run, "delivery:chatapi:1", time.Hour, key,
		store.AttemptStart{Number: 1, Provider: "primary", Action: "send_message", StartedAt: now})
	require.NoError(t, err)
	require.False(t, existed)
	require.EqualValues(t, 5, s.w.execs.Load()-execs, "create and start")

	execs = s.w.execs.Load()
	_, err = s.FinishAttemptRun(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
		Output: json.RawMessage(`{"id":"m1"}`), FinishedAt: now},
		[]store.Delivery{{StepKey: key, Provider: "primary", MessageID: "m1", Event: "message_ack"}},
		func(r *store.Run) error {
			r.Status, r.FinishedAt = store.StatusSucceeded, now
			return nil
		})
	require.NoError(t, err)
	require.EqualValues(t, 4, s.w.execs.Load()-execs, "finish")

	execs = s.w.execs.Load()
	again := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusQueued, CreatedAt: now}
	got, existed, err := s.CreateRun(ctx, again, "delivery:chatapi:1", time.Hour)
	require.NoError(t, err)
	require.True(t, existed)
	require.Equal(t, run.ID, got.ID)
	// BEGIN, the claim that changes nothing, the key's read, the run's
	// read, COMMIT.
	require.EqualValues(t, 5, s.w.execs.Load()-execs, "a repeated key")
}
