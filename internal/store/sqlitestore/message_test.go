package sqlitestore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// messagePlace reports where the message of provider and id is kept: the
// step key of the record whose row holds it, or of its deliveries row, and
// which of the two ("record", "table"); "" when it is in neither. It fails
// t when the message is in both.
func messagePlace(t *testing.T, s *Store, provider, id string) (store.StepKey, string) {
	t.Helper()
	ctx := context.Background()
	var inRow, inTable store.StepKey
	rowErr := s.read.QueryRowContext(ctx, `SELECT run_id, step_id, item FROM step_records
		WHERE msg_provider = ? AND msg_id = ?`, provider, id).Scan(&inRow.RunID, &inRow.StepID, &inRow.Item)
	tableErr := s.read.QueryRowContext(ctx, `SELECT run_id, step_id, item FROM deliveries
		WHERE provider = ? AND message_id = ?`, provider, id).Scan(&inTable.RunID, &inTable.StepID, &inTable.Item)
	require.False(t, rowErr == nil && tableErr == nil, "message %s is in a step record's row and in deliveries", id)
	switch {
	case rowErr == nil:
		return inRow, "record"
	case tableErr == nil:
		return inTable, "table"
	}
	return store.StepKey{}, ""
}

// TestMessageInStepRecord checks the two places of an indexed message
// (migration 0011): the message a first attempt sent goes to its step
// record's row, in the statement that finishes the attempt, and is found
// there by receipts and RunDeliveries; a message that cannot go there (its
// step has no record, the record holds another message, it is bound
// elsewhere) goes to deliveries; a message is never in both, and moving it
// to another step, from either place, drops its status.
func TestMessageInStepRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTemp(t)
	now := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	const ack = "chatapi.ack"
	newRunning := func() store.Run {
		run := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusRunning, Attempt: 1,
			Owner: "host-a", CreatedAt: now, StartedAt: now, HeartbeatAt: now}
		_, _, err := s.CreateRun(ctx, run, "", 0)
		require.NoError(t, err)
		return run
	}
	start := func(key store.StepKey) {
		require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}))
	}
	finish := func(key store.StepKey, ds ...store.Delivery) error {
		_, err := s.FinishAttemptRun(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
			Output: json.RawMessage(`{"id":"x"}`), FinishedAt: now}, ds, func(*store.Run) error { return nil })
		return err
	}
	msg := func(key store.StepKey, id string) store.Delivery {
		return store.Delivery{StepKey: key, Provider: "chatapi", MessageID: id, Event: ack}
	}
	receipt := func(id, status string) store.Delivery {
		d, _, err := s.RecordReceipt(ctx, "chatapi", id, ack, store.Receipt{Status: status, At: now,
			Data: json.RawMessage(`{"status":"` + status + `"}`)})
		require.NoError(t, err)
		return d
	}

	// The usual send: in the record's row, found by receipts.
	run := newRunning()
	a := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	start(a)
	require.NoError(t, finish(a, msg(a, "m1")))
	key, place := messagePlace(t, s, "chatapi", "m1")
	require.Equal(t, "record", place)
	require.Equal(t, a, key)
	d := receipt("m1", "delivered")
	require.Equal(t, a, d.StepKey)
	require.Equal(t, "delivered", d.Status)
	_, changed, err := s.RecordReceipt(ctx, "chatapi", "m1", ack, store.Receipt{Status: "sent", At: now})
	require.NoError(t, err)
	require.False(t, changed, "a lower status changes nothing")
	_, _, err = s.RecordReceipt(ctx, "chatapi", "m1", "chatapi.message", store.Receipt{Status: "read", At: now})
	require.ErrorIs(t, err, store.ErrNotFound, "another event type")

	// Indexing it again to the same step keeps it and its status.
	require.NoError(t, s.IndexMessage(ctx, msg(a, "m1")))
	got, err := s.RunDeliveries(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "delivered", got[0].Status)
	require.JSONEq(t, `{"status":"delivered"}`, string(got[0].Data))

	// A second message of the same step goes to deliveries; both read back,
	// in message id order.
	require.NoError(t, s.IndexMessage(ctx, msg(a, "m0")))
	_, place = messagePlace(t, s, "chatapi", "m0")
	require.Equal(t, "table", place)
	got, err = s.RunDeliveries(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, []string{"m0", "m1"}, []string{got[0].MessageID, got[1].MessageID})

	// Moved to another step of another run: out of the row, into
	// deliveries, with no status; the first run has only m0 left.
	other := newRunning()
	b := store.StepKey{RunID: other.ID, StepID: "page", Item: 2}
	require.NoError(t, s.IndexMessage(ctx, msg(b, "m1")))
	key, place = messagePlace(t, s, "chatapi", "m1")
	require.Equal(t, b, key)
	require.Equal(t, "table", place, "b has no step record")
	got, err = s.RunDeliveries(ctx, other.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Empty(t, got[0].Status)
	got, err = s.RunDeliveries(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "m0", got[0].MessageID)
	var cleared int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM step_records WHERE run_id = ?
		AND msg_provider IS NULL AND msg_event IS NULL AND msg_status = '' AND msg_at IS NULL
		AND msg_event_json IS NULL`, run.ID).Scan(&cleared))
	require.Equal(t, 1, cleared, "the row it left holds nothing of it")

	// A message indexed before its step's record (in deliveries, with a
	// receipt) stays there when the first attempt's finish names it again.
	c := store.StepKey{RunID: other.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.IndexMessage(ctx, msg(c, "m2")))
	receipt("m2", "read")
	start(c)
	require.NoError(t, finish(c, msg(c, "m2")))
	key, place = messagePlace(t, s, "chatapi", "m2")
	require.Equal(t, c, key)
	require.Equal(t, "table", place)
	require.Equal(t, "read", receipt("m2", "sent").Status, "its status is kept")

	// A record that is free takes a message indexed on its own; a message
	// bound in deliveries to another step moves to the finishing record's
	// step, with no status.
	e := store.StepKey{RunID: other.ID, StepID: "each", Item: 0}
	start(e)
	require.NoError(t, finish(e, msg(e, "m1")))
	key, place = messagePlace(t, s, "chatapi", "m1")
	require.Equal(t, e, key)
	require.Equal(t, "table", place, "it was bound in deliveries")
	f := store.StepKey{RunID: other.ID, StepID: "each", Item: 1}
	start(f)
	require.NoError(t, finish(f))
	require.NoError(t, s.IndexMessage(ctx, msg(f, "m3")))
	key, place = messagePlace(t, s, "chatapi", "m3")
	require.Equal(t, f, key)
	require.Equal(t, "record", place)

	// A message in a row moves to another record's finish: into
	// deliveries at the new step, out of the old row.
	g := store.StepKey{RunID: other.ID, StepID: "each", Item: 2}
	start(g)
	require.NoError(t, finish(g, msg(g, "m3")))
	key, place = messagePlace(t, s, "chatapi", "m3")
	require.Equal(t, g, key)
	require.Equal(t, "table", place)

	// An attempt that cannot finish indexes nothing.
	require.ErrorIs(t, finish(g, msg(g, "m4")), store.ErrConflict)
	_, place = messagePlace(t, s, "chatapi", "m4")
	require.Empty(t, place)

	// Pruning a run takes the messages in its records' rows too.
	h := store.StepKey{RunID: run.ID, StepID: "escalate", Item: store.NoItem}
	start(h)
	require.NoError(t, finish(h, msg(h, "m5")))
	_, place = messagePlace(t, s, "chatapi", "m5")
	require.Equal(t, "record", place)
	_, err = s.UpdateRun(ctx, run.ID, func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, now
		return nil
	})
	require.NoError(t, err)
	n, err := s.PruneRuns(ctx, now.Add(time.Hour), 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	for _, id := range []string{"m0", "m5"} {
		_, place = messagePlace(t, s, "chatapi", id)
		require.Empty(t, place, id)
		_, _, err = s.RecordReceipt(ctx, "chatapi", id, ack, store.Receipt{Status: "read", At: now})
		require.ErrorIs(t, err, store.ErrNotFound, id)
	}
	_, place = messagePlace(t, s, "chatapi", "m2")
	require.Equal(t, "table", place, "the other run's messages stay")
}
