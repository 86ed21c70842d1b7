package sqlitestore

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestMigrateKeepsTheRowsOfAnOlderFile opens a file an older herald wrote
// (schema version 1, no auto_vacuum) and checks that the history migration
// rebuilds its tables without losing a row or a foreign key, and turns
// incremental vacuum on.
func TestMigrateKeepsTheRowsOfAnOlderFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := loadMigrations()
	require.NoError(t, err)

	old, err := sql.Open("sqlite", connString(path, DefaultBusyTimeout, "journal_mode(WAL)", "foreign_keys(1)"))
	require.NoError(t, err)
	for _, q := range []string{
		ms[0].sql,
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 'init', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO runs (id, workflow, status, trigger_json, attempt, owner, created_at, started_at, finished_at)
			VALUES ('r1', 'wf', 'failed', '{"kind":"webhook"}', 1, 'h/1', '2026-01-01T00:00:00.000000Z',
			'2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:02.000000Z')`,
		`INSERT INTO idempotency_keys VALUES ('api:wf:k', 'r1', '2027-01-01T00:00:00.000000Z')`,
		`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, error_class, error_message,
			started_at, finished_at) VALUES ('r1', 'notify', -1, 'failed', 2, 'chatapi', 'permanent', 'boom',
			'2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:02.000000Z')`,
		`INSERT INTO step_attempts (run_id, step_id, item, attempt, provider, status, error_class, error_message,
			started_at, finished_at) VALUES ('r1', 'notify', -1, 1, 'chatapi', 'failed', 'rate_limited', 'slow down',
			'2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:01.500000Z')`,
		`INSERT INTO step_attempts (run_id, step_id, item, attempt, provider, status, error_class, error_message,
			started_at, finished_at) VALUES ('r1', 'notify', -1, 2, 'chatapi', 'failed', 'permanent', 'boom',
			'2026-01-01T00:00:01.600000Z', '2026-01-01T00:00:02.000000Z')`,
	} {
		_, err := old.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, old.Close())

	s := openAt(t, path)
	run, err := s.GetRun(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, run.Status)
	require.Equal(t, "webhook", run.TriggerKind)
	recs, err := s.StepRecords(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "boom", recs[0].Error.Message)
	attempts, err := s.Attempts(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.Equal(t, store.OutcomeRateLimited, attempts[0].Outcome)
	require.Equal(t, store.OutcomePermanent, attempts[1].Outcome)

	// The rebuilt tables still cascade: pruning the run takes its rows.
	var mode int
	require.NoError(t, s.read.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode))
	require.Equal(t, 2, mode, "auto_vacuum is incremental")
	n, err := s.PruneRuns(ctx, run.FinishedAt.Add(time.Second), 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	for _, table := range []string{"runs", "idempotency_keys", "step_records", "step_attempts"} {
		var count int
		require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&count))
		require.Zero(t, count, table)
	}
}
