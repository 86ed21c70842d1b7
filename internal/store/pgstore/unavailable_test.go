package pgstore

import (
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestUnreachableServerIsUnavailable stands for a database that is down:
// nothing listens where the pool connects.
func TestUnreachableServerIsUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	pool, err := pgxpool.New(t.Context(), "postgres://herald@"+addr+"/herald?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := OpenPool(t.Context(), pool, Options{Schema: "herald", SkipMigrate: true})
	require.NoError(t, err)

	require.ErrorIs(t, s.Ping(t.Context()), store.ErrUnavailable)
	_, _, err = s.CreateRun(t.Context(), store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "api:w:k", time.Hour)
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.GetRun(t.Context(), "r1")
	require.ErrorIs(t, err, store.ErrUnavailable)
}

// TestReadOnlyServerIsUnavailable stands for a standby, or a server put in
// read-only mode: it answers reads but takes no writes.
func TestReadOnlyServerIsUnavailable(t *testing.T) {
	t.Parallel()
	rw := openFresh(t)
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	_, _, err := rw.CreateRun(t.Context(), run, "", 0)
	require.NoError(t, err)

	cfg, err := pgxpool.ParseConfig(testDSN(t))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ro, err := OpenPool(t.Context(), pool, Options{Schema: rw.Schema(), SkipMigrate: true})
	require.NoError(t, err)

	err = ro.Ping(t.Context())
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorContains(t, err, "takes no writes")
	_, _, err = ro.CreateRun(t.Context(), store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = ro.GetRun(t.Context(), run.ID)
	require.NoError(t, err, "reads still work")
	require.NoError(t, rw.Ping(t.Context()))
}
