package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testEager checks store.EagerStarter: a run created already running with
// its first attempt started, in one transaction, all or nothing, guarded
// by its idempotency key as CreateRun is. A store without it skips the
// group.
func testEager(t *testing.T, open func(*testing.T) store.Store) {
	at := func(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }
	begin := func(t *testing.T) (*bundle, store.EagerStarter) {
		t.Helper()
		b := setup(t, open)
		es, ok := b.s.(store.EagerStarter)
		if !ok {
			t.Skip("the store has no EagerStarter")
		}
		return b, es
	}
	// taken returns a new run as an engine takes it to execute it at once.
	taken := func() (store.Run, store.StepKey) {
		run := newRun("w", 0)
		run.Status, run.Attempt, run.Owner, run.HeartbeatAt, run.StartedAt = store.StatusRunning, 1, "host-a", at(1), at(1)
		return run, store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	}
	start := store.AttemptStart{Number: 1, Provider: "chatapi", Action: "send", StartedAt: at(1)}
	const ttl = time.Hour

	t.Run("StoresBoth", func(t *testing.T) {
		t.Parallel()
		b, es := begin(t)
		run, key := taken()
		got, existed, err := es.CreateStartAttemptRun(b.ctx, run, "api:w:k1", ttl, key, start)
		require.NoError(t, err)
		require.False(t, existed)
		requireRun(t, run, got)

		stored, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, run, stored)
		requireTime(t, at(1), stored.HeartbeatAt)
		attempts := b.attempts(t, run.ID)
		require.Len(t, attempts, 1)
		requireAttempt(t, store.Attempt{StepKey: key, Number: 1, Provider: "chatapi", Action: "send", Status: store.StatusRunning,
			StartedAt: at(1)}, attempts[0])
		recs := b.records(t, run.ID)
		require.Len(t, recs, 1)
		require.Equal(t, store.StatusRunning, recs[0].Status)
		// The key is bound to the run: a repeat finds it.
		again, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Second), "api:w:k1", ttl)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, run.ID, again.ID)
		// The run goes on as any other: its attempt finishes.
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: at(2)}))
	})

	t.Run("WithoutKey", func(t *testing.T) {
		t.Parallel()
		b, es := begin(t)
		run, key := taken()
		_, existed, err := es.CreateStartAttemptRun(b.ctx, run, "", 0, key, start)
		require.NoError(t, err)
		require.False(t, existed)
		stored, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, run, stored)
		require.Len(t, b.attempts(t, run.ID), 1)
	})

	t.Run("LiveKeyStoresNothing", func(t *testing.T) {
		t.Parallel()
		b, es := begin(t)
		first, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), "api:w:k1", ttl)
		require.NoError(t, err)
		run, key := taken()
		got, existed, err := es.CreateStartAttemptRun(b.ctx, run, "api:w:k1", ttl, key, start)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, first.ID, got.ID)
		require.Equal(t, store.StatusQueued, got.Status)

		_, err = b.s.GetRun(b.ctx, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "the new run is not stored")
		require.Empty(t, b.attempts(t, first.ID), "no attempt is started for the existing run")
	})

	t.Run("ReusedKeyStoresNothing", func(t *testing.T) {
		t.Parallel()
		b, es := begin(t)
		firstRun := newRun("w", 0)
		firstRun.RequestFingerprint = "sha256:aaa"
		first, _, err := b.s.CreateRun(b.ctx, firstRun, "api:w:k1", ttl)
		require.NoError(t, err)
		run, key := taken()
		run.RequestFingerprint = "sha256:bbb"
		_, _, err = es.CreateStartAttemptRun(b.ctx, run, "api:w:k1", ttl, key, start)
		require.ErrorIs(t, err, store.ErrIdempotencyKeyReused)

		_, err = b.s.GetRun(b.ctx, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Empty(t, b.attempts(t, first.ID))
	})

	t.Run("FailureStoresNothing", func(t *testing.T) {
		t.Parallel()
		b, es := begin(t)
		// A run ID that is taken fails the insert after the key was
		// looked up (PostgreSQL: claimed): the key stays unbound.
		other := b.create(t, newRun("w", 0))
		run, key := taken()
		run.ID, key.RunID = other.ID, other.ID
		_, _, err := es.CreateStartAttemptRun(b.ctx, run, "api:w:k1", ttl, key, start)
		require.ErrorIs(t, err, store.ErrConflict)
		stored, err := b.s.GetRun(b.ctx, other.ID)
		require.NoError(t, err)
		requireRun(t, other, stored)
		require.Empty(t, b.attempts(t, other.ID))
		require.Empty(t, b.records(t, other.ID))
		fresh, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Second), "api:w:k1", ttl)
		require.NoError(t, err)
		require.False(t, existed, "the failed write bound no key")

		// Arguments that break the rules are refused before anything is
		// written.
		run, key = taken()
		_, _, err = es.CreateStartAttemptRun(b.ctx, run, "api:w:k2", ttl, key, store.AttemptStart{Provider: "chatapi", StartedAt: at(1)})
		require.ErrorIs(t, err, store.ErrInvalid)
		_, _, err = es.CreateStartAttemptRun(b.ctx, run, "api:w:k2", ttl, store.StepKey{RunID: fresh.ID, StepID: "notify", Item: store.NoItem}, start)
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = b.s.GetRun(b.ctx, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Empty(t, b.attempts(t, fresh.ID))
		_, existed, err = b.s.CreateRun(b.ctx, newRun("w", 2*time.Second), "api:w:k2", ttl)
		require.NoError(t, err)
		require.False(t, existed)
	})
}
