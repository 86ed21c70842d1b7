package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

func TestCreateRunTxCommitsWithTheCallersWrites(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := context.Background()
	newRun := func() store.Run {
		return store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	}

	// Rolled back: neither the run nor its key remains.
	rolledBack := newRun()
	errLater := errors.New("a later write of the transaction failed")
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, existed, err := s.CreateRunTx(ctx, tx, rolledBack, "api:w:k", time.Hour)
		require.NoError(t, err)
		require.False(t, existed)
		return errLater
	})
	require.ErrorIs(t, err, errLater)
	_, err = s.GetRun(ctx, rolledBack.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Committed: the key now guards the run, in and out of transactions.
	first := newRun()
	require.NoError(t, pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, _, err := s.CreateRunTx(ctx, tx, first, "api:w:k", time.Hour)
		return err
	}))
	again, existed, err := s.CreateRun(ctx, newRun(), "api:w:k", time.Hour)
	require.NoError(t, err)
	require.True(t, existed)
	require.Equal(t, first.ID, again.ID)
	require.NoError(t, pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		got, existed, err := s.CreateRunTx(ctx, tx, newRun(), "api:w:k", time.Hour)
		require.True(t, existed)
		require.Equal(t, first.ID, got.ID)
		return err
	}))

	// Without a key, and with the same rules as CreateRun.
	plain := newRun()
	require.NoError(t, pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, _, err := s.CreateRunTx(ctx, tx, plain, "", 0)
		return err
	}))
	_, err = s.GetRun(ctx, plain.ID)
	require.NoError(t, err)
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, _, err := s.CreateRunTx(ctx, tx, plain, "", 0)
		return err
	})
	require.ErrorIs(t, err, store.ErrConflict, "a taken run id")
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, _, err := s.CreateRunTx(ctx, tx, newRun(), "api:w:other", 0)
		return err
	})
	require.ErrorIs(t, err, store.ErrInvalid, "a key without a ttl")
}

func TestStartWithinHoldsTheLimitAcrossStores(t *testing.T) {
	t.Parallel()
	a := openFresh(t)
	b := openSchema(t, a.Schema()) // a second replica's store
	ctx := context.Background()
	var ids []string
	for range 5 {
		r := store.Run{ID: store.NewRunID(), Workflow: "limited", Status: store.StatusQueued, CreatedAt: time.Now()}
		_, _, err := a.CreateRun(ctx, r, "", 0)
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	// Five racing starts across two stores, limit 2: two win.
	type result struct {
		id string
		ok bool
	}
	results := make(chan result, len(ids))
	for i, id := range ids {
		st := []*Store{a, b}[i%2]
		go func() {
			ok, err := st.StartWithin(ctx, id, "host/1", 2)
			if err != nil {
				t.Error(err)
			}
			results <- result{id, ok}
		}()
	}
	var started []string
	for range ids {
		if r := <-results; r.ok {
			started = append(started, r.id)
		}
	}
	require.Len(t, started, 2)

	// A started run keeps its slot, and says so when asked again.
	ok, err := a.StartWithin(ctx, started[0], "host/2", 2)
	require.NoError(t, err)
	require.True(t, ok)
	// When one ends, a waiting run may start.
	_, err = a.UpdateRun(ctx, started[0], func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, time.Now()
		return nil
	})
	require.NoError(t, err)
	var waiting string
	for _, id := range ids {
		if id != started[0] && id != started[1] {
			waiting = id
			break
		}
	}
	ok, err = b.StartWithin(ctx, waiting, "host/2", 2)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := b.GetRun(ctx, waiting)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, got.Status)
	require.Equal(t, "host/2", got.Owner)

	_, err = a.StartWithin(ctx, "no-such-run", "host/1", 2)
	require.ErrorIs(t, err, store.ErrNotFound)
	ok, err = a.StartWithin(ctx, ids[4], "host/1", 0)
	require.NoError(t, err)
	require.True(t, ok, "no limit")
}
