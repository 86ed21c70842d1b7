package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testCommits checks store.RunCommitter: a run's update written in the
// same transaction as an attempt's start or result, all or nothing. A store
// without it skips the group.
func testCommits(t *testing.T, open func(*testing.T) store.Store) {
	at := func(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }
	// begin opens a store with one queued run and returns it, its
	// committer, and the key of its step "notify".
	begin := func(t *testing.T) (*bundle, store.RunCommitter, store.Run, store.StepKey) {
		t.Helper()
		b := setup(t, open)
		c, ok := b.s.(store.RunCommitter)
		if !ok {
			t.Skip("the store has no RunCommitter")
		}
		run := b.create(t, newRun("w", 0))
		return b, c, run, store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	}
	claim := func(r *store.Run) error {
		r.Status, r.Attempt, r.Owner, r.HeartbeatAt, r.StartedAt = store.StatusRunning, r.Attempt+1, "host-a", at(1), at(1)
		return nil
	}
	finish := func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, at(3)
		return nil
	}
	start := store.AttemptStart{Number: 1, Provider: "chatapi", Action: "send", StartedAt: at(1)}
	success := store.AttemptResult{Status: store.StatusSucceeded, Output: json.RawMessage(`{"id":"m-1"}`), FinishedAt: at(2)}

	t.Run("StartAttemptRunStoresBoth", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		got, err := c.StartAttemptRun(b.ctx, key, start, claim)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, got.Status)
		require.Equal(t, 1, got.Attempt)

		run, err := b.s.GetRun(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, run.Status)
		require.Equal(t, "host-a", run.Owner)
		require.Equal(t, 1, run.Attempt)
		requireTime(t, at(1), run.HeartbeatAt)
		attempts := b.attempts(t, key.RunID)
		require.Len(t, attempts, 1)
		requireAttempt(t, store.Attempt{StepKey: key, Number: 1, Provider: "chatapi", Action: "send", Status: store.StatusRunning,
			StartedAt: at(1)}, attempts[0])
		require.Equal(t, store.StatusRunning, b.records(t, key.RunID)[0].Status)
	})

	t.Run("StartAttemptRunRefusedByUpdateStoresNothing", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		refuse := errors.New("refused")
		_, err := c.StartAttemptRun(b.ctx, key, start, func(*store.Run) error { return refuse })
		require.ErrorIs(t, err, refuse)

		run, err := b.s.GetRun(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, run.Status)
		require.Empty(t, b.attempts(t, key.RunID))
		require.Empty(t, b.records(t, key.RunID))
	})

	t.Run("StartAttemptRunConflictLeavesTheRun", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		require.NoError(t, b.s.StartAttempt(b.ctx, key, start))
		_, err := c.StartAttemptRun(b.ctx, key, start, claim)
		require.ErrorIs(t, err, store.ErrConflict)

		run, err := b.s.GetRun(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, run.Status, "the run's update is undone with the attempt")
		require.Zero(t, run.Attempt)
		// The store keeps working on the run after the refusal.
		_, err = c.StartAttemptRun(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: at(2)}, claim)
		require.NoError(t, err)
	})

	t.Run("FinishAttemptRunStoresAll", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		_, err := c.StartAttemptRun(b.ctx, key, start, claim)
		require.NoError(t, err)
		d := store.Delivery{StepKey: key, Provider: "chatapi", MessageID: "m-1", Event: "chatapi.ack"}
		got, err := c.FinishAttemptRun(b.ctx, key, 1, success, []store.Delivery{d}, finish)
		require.NoError(t, err)
		require.Equal(t, store.StatusSucceeded, got.Status)

		run, err := b.s.GetRun(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusSucceeded, run.Status)
		requireTime(t, at(3), run.FinishedAt)
		require.Equal(t, "host-a", run.Owner)
		rec := b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusSucceeded, rec.Status)
		requireJSON(t, success.Output, rec.Output)
		requireTime(t, at(2), rec.FinishedAt)
		attempts := b.attempts(t, key.RunID)
		require.Len(t, attempts, 1)
		require.Equal(t, store.StatusSucceeded, attempts[0].Status)
		ds, err := b.s.RunDeliveries(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "m-1", ds[0].MessageID)
		require.Equal(t, key, ds[0].StepKey)
		require.Empty(t, ds[0].Status)
	})

	t.Run("FinishAttemptRunRefusedStoresNothing", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		_, err := c.StartAttemptRun(b.ctx, key, start, claim)
		require.NoError(t, err)
		d := store.Delivery{StepKey: key, Provider: "chatapi", MessageID: "m-1", Event: "chatapi.ack"}

		// An attempt never started: nothing of the write is stored.
		_, err = c.FinishAttemptRun(b.ctx, key, 2, success, []store.Delivery{d}, finish)
		require.ErrorIs(t, err, store.ErrNotFound)
		// A run update that refuses: the attempt stays running.
		refuse := errors.New("refused")
		_, err = c.FinishAttemptRun(b.ctx, key, 1, success, []store.Delivery{d}, func(*store.Run) error { return refuse })
		require.ErrorIs(t, err, refuse)
		// A delivery that cannot be indexed: refused before anything is written.
		_, err = c.FinishAttemptRun(b.ctx, key, 1, success, []store.Delivery{{StepKey: key, Provider: "chatapi"}}, finish)
		require.ErrorIs(t, err, store.ErrInvalid)

		run, err := b.s.GetRun(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, run.Status)
		require.True(t, run.FinishedAt.IsZero())
		require.Equal(t, store.StatusRunning, b.attempts(t, key.RunID)[0].Status)
		require.Equal(t, store.StatusRunning, b.records(t, key.RunID)[0].Status)
		ds, err := b.s.RunDeliveries(b.ctx, key.RunID)
		require.NoError(t, err)
		require.Empty(t, ds)
	})

	t.Run("RunChangedConcurrentlyIsReadAgain", func(t *testing.T) {
		t.Parallel()
		b, c, _, key := begin(t)
		// Another writer changes the run after this store read it; update
		// sees the change on its retry, and the attempt is stored once.
		calls := 0
		got, err := c.StartAttemptRun(b.ctx, key, start, func(r *store.Run) error {
			calls++
			if calls == 1 {
				_, err := b.s.UpdateRun(b.ctx, key.RunID, func(r *store.Run) error { r.Reason = "moved"; return nil })
				require.NoError(t, err)
			}
			return claim(r)
		})
		require.NoError(t, err)
		require.Equal(t, 2, calls)
		require.Equal(t, "moved", got.Reason)
		require.Len(t, b.attempts(t, key.RunID), 1)
	})
}
