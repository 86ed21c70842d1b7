// Package retentiontest gives the retention's tests an old history to
// prune: finished runs 40 days old written straight into a SQLite file, as
// fast as one transaction allows.
//
// It is for tests only and must not be imported by non-test code.
package retentiontest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// SeedSQLite writes n finished runs created 40 days ago, each with a step
// record and an attempt, straight into the SQLite file at path, then
// checkpoints the WAL: the history of a busy month.
func SeedSQLite(t testing.TB, path string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path) // creates and migrates the file
	require.NoError(t, err)
	require.NoError(t, st.Close())
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	runStmt, err := tx.PrepareContext(ctx, `INSERT INTO runs (id, workflow, status, trigger_json, attempt, trigger_kind,
		created_at, started_at, finished_at) VALUES (?, 'load', 'succeeded', ?, 1, 'webhook', ?, ?, ?)`)
	require.NoError(t, err)
	// A step's first attempt lives in its record's row, as the store writes it
	// (sqlitestore migration 0009).
	recStmt, err := tx.PrepareContext(ctx, `INSERT INTO step_records (run_id, step_id, item, status, attempts, provider,
		output_json, started_at, finished_at, first_provider, first_action, first_status, first_outcome,
		first_request_json, first_response_json, first_started_at, first_finished_at)
		VALUES (?1, 's', -1, 'succeeded', 1, 'chatapi', ?2, ?3, ?3, 'chatapi', 'send_message', 'succeeded', 'succeeded',
		?4, ?5, ?3, ?3)`)
	require.NoError(t, err)
	old := time.Now().Add(-40 * 24 * time.Hour).UTC()
	const layout = "2006-01-02T15:04:05.000000Z"
	for i := range n {
		id := store.NewRunID()
		at := old.Add(time.Duration(i) * time.Millisecond).Format(layout)
		trig := fmt.Sprintf(`{"kind":"webhook","body":{"text":"disk full on db-%d","recipients":["14155550123"]}}`, i)
		_, err = runStmt.ExecContext(ctx, id, trig, at, at, at)
		require.NoError(t, err)
		_, err = recStmt.ExecContext(ctx, id, fmt.Sprintf(`{"sent":true,"id":"true_14155550123@c.us_%d"}`, i), at,
			fmt.Sprintf(`{"method":"POST","url":"https://api.chat-api.com/instance1/sendMessage?token=***","body":{"phone":"14155550123","body":"disk full on db-%d"}}`, i),
			fmt.Sprintf(`{"status":200,"body":{"sent":true,"id":"true_14155550123@c.us_%d","message":"ok"}}`, i))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
}
