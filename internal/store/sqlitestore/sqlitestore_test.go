package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWith(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return openTemp(t)
		},
		// A second Store on the same file, as a second herald process
		// would open it: its own writer, its own connections.
		OpenSecond: func(t *testing.T, first store.Store) store.Store {
			return openAt(t, first.(*Store).Path())
		},
	})
}

// openTemp opens a store in a new temporary directory, closed when t ends.
func openTemp(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "herald.db"))
}

// openAt opens the store at path, closed when t ends.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	at := time.Date(2026, time.March, 29, 7, 0, 0, 0, time.UTC)

	s, err := Open(ctx, path)
	require.NoError(t, err)
	run := store.Run{ID: store.NewRunID(), Workflow: "oncall-digest", Status: store.StatusRunning,
		Trigger: json.RawMessage(`{"kind":"cron"}`), CreatedAt: at}
	_, _, err = s.CreateRun(ctx, run, "cron:oncall-digest:0:2026-03-29T07:00:00Z", 24*time.Hour)
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at}))
	require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{
		Status: store.StatusSucceeded, Output: json.RawMessage(`{"sent":true}`), FinishedAt: at.Add(time.Second)}))
	require.NoError(t, s.SetCronState(ctx, store.CronState{Workflow: "oncall-digest", Trigger: "0", Last: at, Next: at.Add(24 * time.Hour)}))
	require.NoError(t, s.Close())

	s = openAt(t, path)
	got, err := s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, got.Status)
	recs, err := s.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, store.StatusSucceeded, recs[0].Status)
	require.JSONEq(t, `{"sent":true}`, string(recs[0].Output))
	cron, err := s.CronState(ctx, "oncall-digest", "0")
	require.NoError(t, err)
	require.True(t, cron.Next.Equal(at.Add(24*time.Hour)))
	again, existed, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "oncall-digest",
		Status: store.StatusQueued, CreatedAt: at.Add(time.Minute)}, "cron:oncall-digest:0:2026-03-29T07:00:00Z", 24*time.Hour)
	require.NoError(t, err)
	require.True(t, existed, "idempotency keys survive a restart")
	require.Equal(t, run.ID, again.ID)

	var versions int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions))
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), versions, "reopening applies no migration twice")
}

func TestOpenConfiguresTheConnection(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	pragma := func(q querier, name string) string {
		t.Helper()
		var v string
		require.NoError(t, q.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	writePragma := func(name string) string {
		t.Helper()
		var v string
		require.NoError(t, s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
			v = pragma(tx, name)
			return nil
		}))
		return v
	}
	require.Equal(t, "wal", writePragma("journal_mode"))
	require.Equal(t, "1", writePragma("foreign_keys"))
	require.Equal(t, "2", writePragma("synchronous"), "FULL")
	require.Equal(t, fmt.Sprint(DefaultBusyTimeout.Milliseconds()), writePragma("busy_timeout"))
	require.Equal(t, fmt.Sprint(DefaultBusyTimeout.Milliseconds()), pragma(s.read, "busy_timeout"))
	require.Equal(t, "1", pragma(s.read, "query_only"))
}

func TestOpenCreatesParentDirectories(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "project", ".herald", "herald.db")
	s := openAt(t, path)
	require.NoError(t, s.Ping(t.Context()))
	require.FileExists(t, path)
}

func TestOpenDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenDSN(t.Context(), store.DefaultDSN(dir))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.FileExists(t, filepath.Join(dir, ".herald", "herald.db"))

	_, err = OpenDSN(t.Context(), "postgres://u:p@localhost/herald")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = OpenDSN(t.Context(), "nonsense")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.withTx(t.Context(), func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00.000000Z')`)
		return err
	}))
	require.NoError(t, s.Close())

	_, err = Open(t.Context(), path)
	require.ErrorContains(t, err, "schema version 999 is newer")
}

// TestTwoStoresOnOneFile stands for two herald processes on the same file:
// each has its own writer connection, so they contend for the file lock and
// must wait for each other rather than fail with SQLITE_BUSY.
func TestTwoStoresOnOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	a, b := openAt(t, path), openAt(t, path)
	ctx := t.Context()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err := a.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for i := range 64 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			key := store.StepKey{RunID: run.ID, StepID: "each", Item: i}
			if !assert.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()})) {
				return
			}
			assert.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: time.Now()}))
		})
	}
	wg.Wait()
	recs, err := b.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 64)
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		require.Equal(t, i+1, m.version)
		require.NotEmpty(t, m.sql)
	}
}
