package pgstore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
)

// openTraced opens a store in a fresh schema on a pool whose round trips
// are counted.
func openTraced(t testing.TB) (*Store, *pgtest.RoundTrips) {
	t.Helper()
	schema := newSchemaName(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(withSearchPath(t, testDSN(t), schema))
	require.NoError(t, err)
	rt := &pgtest.RoundTrips{}
	cfg.ConnConfig.Tracer = rt
	// Names the pool's server processes, for serverCPU.
	cfg.ConnConfig.RuntimeParams["application_name"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	s, err := OpenPool(ctx, pool, Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Close()
		pool.Close()
	})
	return s, rt
}

// oneStepWrites are the writes of a one-step run after its creation, as
// the engine makes them: read the run, take it with the attempt's start,
// finish the attempt with its delivery and the run's end.
type oneStepWrites struct {
	key     store.StepKey
	start   store.AttemptStart
	take    func(*store.Run) error
	result  store.AttemptResult
	ds      []store.Delivery
	end     func(*store.Run) error
	created store.Run
}

// newOneStep creates a queued run in s and returns its writes.
func newOneStep(t testing.TB, s *Store) oneStepWrites {
	return newOneStepCtx(context.Background(), t, s)
}

// newOneStepCtx is newOneStep, creating the run with ctx.
func newOneStepCtx(ctx context.Context, t testing.TB, s *Store) oneStepWrites {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: now,
		Trigger: json.RawMessage(`{"kind":"webhook","body":{"to":"a"}}`)}
	created, _, err := s.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "page", Item: store.NoItem}
	return oneStepWrites{
		key:   key,
		start: store.AttemptStart{Number: 1, Provider: "primary", Action: "send", StartedAt: now},
		take: func(r *store.Run) error {
			r.Status, r.Attempt, r.Owner, r.HeartbeatAt, r.StartedAt = store.StatusRunning, r.Attempt+1, "host-a", now, now
			return nil
		},
		result: store.AttemptResult{Status: store.StatusSucceeded, Output: json.RawMessage(`{"id":"msg-a"}`), FinishedAt: now},
		ds:     []store.Delivery{{Provider: "primary", MessageID: "msg-" + run.ID, Event: "send", StepKey: key}},
		end: func(r *store.Run) error {
			r.Status, r.FinishedAt = store.StatusSucceeded, now
			return nil
		},
		created: created,
	}
}

// TestRunWritesRoundTrips counts the round trips of a one-step run's writes
// after its creation: the engine's read of the run, then the take with the
// attempt's start and the attempt's result with the run's end, each one
// round trip and one commit, as neither reads the run first (the read
// before them left it in the run cache). Before the cache each of the two
// writes cost three: a read, BEGIN with the statements, COMMIT.
func TestRunWritesRoundTrips(t *testing.T) {
	t.Parallel()
	s, rt := openTraced(t)
	ctx := rt.Context(context.Background())
	// Prepare the statements once, as a process does early in its life.
	w := newOneStep(t, s)
	_, err := s.GetRun(ctx, w.key.RunID)
	require.NoError(t, err)
	_, err = s.StartAttemptRun(ctx, w.key, w.start, w.take)
	require.NoError(t, err)
	_, err = s.FinishAttemptRun(ctx, w.key, 1, w.result, w.ds, w.end)
	require.NoError(t, err)

	w = newOneStep(t, s)
	before := rt.Count()
	_, err = s.GetRun(ctx, w.key.RunID)
	require.NoError(t, err)
	require.Equal(t, int64(1), rt.Count()-before, "the read")
	before = rt.Count()
	got, err := s.StartAttemptRun(ctx, w.key, w.start, w.take)
	require.NoError(t, err)
	require.Equal(t, int64(1), rt.Count()-before, "take the run and start the attempt")
	require.Equal(t, store.StatusRunning, got.Status)
	require.JSONEq(t, string(w.created.Trigger), string(got.Trigger))
	before = rt.Count()
	got, err = s.FinishAttemptRun(ctx, w.key, 1, w.result, w.ds, w.end)
	require.NoError(t, err)
	require.Equal(t, int64(1), rt.Count()-before, "finish the attempt, index its message, end the run")
	require.Equal(t, store.StatusSucceeded, got.Status)

	stored, err := s.GetRun(ctx, w.key.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, stored.Status)
	require.Equal(t, "host-a", stored.Owner)
	require.Equal(t, 1, stored.Attempt)
	attempts, err := s.Attempts(ctx, w.key.RunID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, store.StatusSucceeded, attempts[0].Status)
	ds, err := s.RunDeliveries(ctx, w.key.RunID)
	require.NoError(t, err)
	require.Len(t, ds, 1)

	// A plain update of a known run is one round trip too.
	w = newOneStep(t, s)
	_, err = s.GetRun(ctx, w.key.RunID)
	require.NoError(t, err)
	before = rt.Count()
	_, err = s.UpdateRun(ctx, w.key.RunID, w.take)
	require.NoError(t, err)
	require.Equal(t, int64(1), rt.Count()-before, "update a known run")
}

// TestRunCacheNeverHidesAnotherWriter: a run this store read, then changed
// by another store on the same schema (another replica), is updated from
// the other writer's result, which the update sees and keeps, never from
// the stale copy this store holds.
func TestRunCacheNeverHidesAnotherWriter(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	other := openSchema(t, s.Schema())
	ctx := context.Background()
	for _, write := range []string{"StartAttemptRun", "UpdateRun"} {
		w := newOneStep(t, s)
		_, err := s.GetRun(ctx, w.key.RunID) // cached here
		require.NoError(t, err)
		_, err = other.UpdateRun(ctx, w.key.RunID, func(r *store.Run) error {
			r.CancelRequested = "replica-b"
			return nil
		})
		require.NoError(t, err)

		var seen []string
		take := func(r *store.Run) error {
			seen = append(seen, r.CancelRequested)
			return w.take(r)
		}
		var got store.Run
		if write == "UpdateRun" {
			got, err = s.UpdateRun(ctx, w.key.RunID, take)
		} else {
			got, err = s.StartAttemptRun(ctx, w.key, w.start, take)
		}
		require.NoError(t, err, write)
		require.Equal(t, "replica-b", seen[len(seen)-1], "%s: the update saw the other writer's change", write)
		require.Equal(t, "replica-b", got.CancelRequested, write)
		stored, err := other.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		require.Equal(t, "replica-b", stored.CancelRequested, "%s: the other writer's change is kept", write)
		require.Equal(t, "host-a", stored.Owner, write)
	}
}

// TestRunCacheRefusalsAreExact: the writes that skip the read (the run is
// in the cache) refuse as the exact way does, with its error, and store
// nothing: an attempt of a step that succeeded, an attempt never started,
// a run deleted by another replica.
func TestRunCacheRefusalsAreExact(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	other := openSchema(t, s.Schema())
	ctx := context.Background()

	t.Run("StepSucceeded", func(t *testing.T) {
		w := newOneStep(t, s)
		require.NoError(t, s.StartAttempt(ctx, w.key, w.start))
		require.NoError(t, s.FinishAttempt(ctx, w.key, 1, w.result))
		_, err := s.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		again := w.start
		again.Number = 2
		_, err = s.StartAttemptRun(ctx, w.key, again, w.take)
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, "step already succeeded")
		stored, err := s.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, stored.Status, "the run's update is undone")
	})
	t.Run("NeverStarted", func(t *testing.T) {
		w := newOneStep(t, s)
		_, err := s.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		_, err = s.FinishAttemptRun(ctx, w.key, 1, w.result, w.ds, w.end)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorContains(t, err, "never started")
		stored, err := s.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, stored.Status, "the run's update is undone")
		ds, err := s.RunDeliveries(ctx, w.key.RunID)
		require.NoError(t, err)
		require.Empty(t, ds, "the message is not indexed")
	})
	t.Run("RunDeleted", func(t *testing.T) {
		w := newOneStep(t, s)
		_, err := s.GetRun(ctx, w.key.RunID)
		require.NoError(t, err)
		_, err = other.pool.Exec(ctx, other.sql(`DELETE FROM {schema}.runs WHERE id = $1`), w.key.RunID)
		require.NoError(t, err)
		_, err = s.StartAttemptRun(ctx, w.key, w.start, w.take)
		require.ErrorIs(t, err, store.ErrNotFound)
		var n int
		require.NoError(t, s.queryRow(ctx, `SELECT (SELECT count(*) FROM {schema}.step_records WHERE run_id = $1)
			+ (SELECT count(*) FROM {schema}.step_attempts WHERE run_id = $1)`, w.key.RunID).Scan(&n))
		require.Zero(t, n)
	})
}
