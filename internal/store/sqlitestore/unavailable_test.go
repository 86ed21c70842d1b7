package sqlitestore

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// holdWriteLock takes the write lock of the file at path from a connection
// of its own, as another process would, until the returned func releases
// it.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", connString(path, time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), `BEGIN EXCLUSIVE`)
	require.NoError(t, err)
	return func() {
		_, err := conn.ExecContext(t.Context(), `ROLLBACK`)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

func TestLockedStoreIsUnavailableUntilReleased(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := OpenWith(ctx, path, Options{BusyTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	before := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	_, _, err = s.CreateRun(ctx, before, "", 0)
	require.NoError(t, err)

	release := holdWriteLock(t, path)
	start := time.Now()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	_, _, err = s.CreateRun(ctx, run, "api:w:k", time.Hour)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second, "the write gives up after the busy timeout")
	require.ErrorIs(t, s.Ping(ctx), store.ErrUnavailable, "Ping sees that writes are locked out")
	_, err = s.GetRun(ctx, before.ID)
	require.NoError(t, err, "reads go on under WAL")

	release()
	require.NoError(t, s.Ping(ctx))
	got, existed, err := s.CreateRun(ctx, run, "api:w:k", time.Hour)
	require.NoError(t, err)
	require.False(t, existed, "the refused write stored nothing, not even its key")
	require.Equal(t, run.ID, got.ID)
}

func TestPingWaitsAtMostTwoSecondsForTheLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openAt(t, path) // the default busy timeout, 10s
	release := holdWriteLock(t, path)
	defer release()
	start := time.Now()
	require.ErrorIs(t, s.Ping(t.Context()), store.ErrUnavailable)
	require.Less(t, time.Since(start), 4*time.Second)
}

func TestDamagedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openAt(t, path)
	for range 20 {
		_, _, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
		require.NoError(t, err)
	}
	corruptPages(t, path)

	_, _, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, s.Ping(ctx), store.ErrUnavailable)
	require.ErrorContains(t, s.Ping(ctx), "malformed")
}

// corruptPages moves the WAL into the file, as SQLite's checkpoints do, and
// then overwrites every page but the first (the header and the schema's
// root) with garbage, as a failing disk or a stray write might.
func corruptPages(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", connString(path, time.Second))
	require.NoError(t, err)
	// The store's checkpointer runs a checkpoint of its own every 500 ms,
	// and one that is under way makes this one report busy at once (SQLite
	// does not wait for the checkpoint lock); on a loaded machine its pass
	// lasts long enough to meet this one. So it is tried again until it
	// completes.
	var busy, logged, moved int
	for deadline := time.Now().Add(10 * time.Second); ; {
		require.NoError(t, db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved))
		if busy == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Zero(t, busy, "the checkpoint completed within 10 s")
	require.NoError(t, db.Close())
	info, err := os.Stat(path)
	require.NoError(t, err)
	const page = 4096
	require.Greater(t, info.Size(), int64(page))
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xA5}, int(info.Size())-page), page)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
