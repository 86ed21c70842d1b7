package sqlitestore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestMigrate0008KeepsEveryKey writes a schema 0007 file with runs, with
// and without idempotency keys, one key rebound from an older run to a
// newer one, live and expired keys, and their step records, attempts and
// delivery index rows; opens it (which applies 0008: the run names its key,
// the key table loses its foreign key and both indexes) and checks that
// every row reads back identically, that each run names the key bound to
// it, that a live key still answers with its run and an expired one is
// bound anew, and that pruning a run deletes its key and spares a key
// rebound since.
func TestMigrate0008KeepsEveryKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v7.db")
	ms, old, exec := oldSchemaFile(t, path, 7)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(200 * time.Minute)
	runID := func(i int) string { return fmt.Sprintf("01RUN%021d", i) }
	keyOf := map[string]string{} // run id → the key bound to it
	for i := range 120 {
		id := runID(i)
		at := encodeTime(start.Add(time.Duration(i) * time.Minute))
		status, finished := "succeeded", at
		if i%5 == 4 {
			status, finished = "running", nil
		}
		exec(`INSERT INTO runs (id, workflow, status, trigger_json, attempt, owner, trigger_kind, created_at, started_at,
			finished_at, version) VALUES (?, 'support', ?, ?, 1, '', 'webhook', ?, ?, ?, ?)`,
			id, status, fmt.Sprintf(`{"kind":"webhook","n":%d}`, i), at, at, finished, i%3)
		if i%4 != 3 { // every fourth run has no key
			// The first 60 keys have expired at now, the others are live.
			expires := encodeTime(start.Add(time.Duration(i)*time.Minute + 2*time.Hour))
			key := fmt.Sprintf("delivery:chatapi:%d", i)
			if i == 100 {
				key = "delivery:chatapi:0" // rebound from run 0, whose key had expired
				delete(keyOf, runID(0))
				exec(`DELETE FROM idempotency_keys WHERE key = ?`, key)
			}
			exec(`INSERT INTO idempotency_keys (key, run_id, expires_at, fingerprint) VALUES (?, ?, ?, ?)`,
				key, id, expires, []string{"", "fp"}[i%2])
			keyOf[id] = key
		}
		exec(`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, output_json, started_at)
			VALUES (?, 'notify', -1, 'succeeded', 1, 'chatapi', '{"id":"m"}', ?)`, id, at)
		exec(`INSERT INTO step_attempts (run_id, step_id, item, attempt, provider, action, status, outcome,
			request_json, started_at, finished_at) VALUES (?, 'notify', -1, 1, 'chatapi', 'send_message', 'succeeded',
			'succeeded', '{"method":"POST"}', ?, ?)`, id, at, at)
		exec(`INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item) VALUES
			('chatapi', ?, 'message_ack', ?, 'notify', -1)`, fmt.Sprintf("msg-%d", i), id)
	}
	s := openMigrated(t, old, path, ms)

	// Each run names the key bound to it, and no other.
	rows, err := s.read.QueryContext(ctx, `SELECT id, idempotency_key FROM runs ORDER BY id`)
	require.NoError(t, err)
	named := 0
	for rows.Next() {
		var id string
		var key sql.NullString
		require.NoError(t, rows.Scan(&id, &key))
		want, ok := keyOf[id]
		require.Equal(t, ok, key.Valid, id)
		require.Equal(t, want, key.String, id)
		named++
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, 120, named)

	// The key table has one B-tree: no index, no foreign key.
	var indexes, fks int
	require.NoError(t, s.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'idempotency_keys'`).Scan(&indexes))
	require.NoError(t, s.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM pragma_foreign_key_list('idempotency_keys')`).Scan(&fks))
	require.Zero(t, indexes)
	require.Zero(t, fks)

	// A live key answers with its run; an expired one is bound anew.
	live := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusQueued, CreatedAt: now}
	got, existed, err := s.CreateRun(ctx, live, "delivery:chatapi:98", time.Hour)
	require.NoError(t, err)
	require.True(t, existed)
	require.Equal(t, runID(98), got.ID)
	fresh := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusQueued, CreatedAt: now}
	got, existed, err = s.CreateRun(ctx, fresh, "delivery:chatapi:1", time.Hour)
	require.NoError(t, err)
	require.False(t, existed)
	require.Equal(t, fresh.ID, got.ID)

	// Pruning deletes the keys of the pruned runs, and spares a key rebound
	// to a run that stays: run 0's key is run 100's, run 1's is fresh's.
	n, err := s.PruneRuns(ctx, start.Add(80*time.Minute), 1000)
	require.NoError(t, err)
	require.EqualValues(t, 64, n, "the final runs created before minute 80")
	keys := map[string]string{}
	rows, err = s.read.QueryContext(ctx, `SELECT key, run_id FROM idempotency_keys`)
	require.NoError(t, err)
	for rows.Next() {
		var key, run string
		require.NoError(t, rows.Scan(&key, &run))
		keys[key] = run
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, runID(100), keys["delivery:chatapi:0"])
	require.Equal(t, fresh.ID, keys["delivery:chatapi:1"])
	for i := range 120 {
		key := fmt.Sprintf("delivery:chatapi:%d", i)
		if i <= 1 || i%4 == 3 || i == 100 {
			continue
		}
		pruned := i < 80 && i%5 != 4
		_, kept := keys[key]
		require.Equal(t, !pruned, kept, key)
	}
	for key := range keys {
		require.True(t, strings.HasPrefix(key, "delivery:chatapi:"), key)
	}
}

// TestPurgeExpiredKeysWalksEveryStep checks that PurgeExpiredKeys, which
// reads the keys purgeKeysStep at a time, deletes exactly the expired keys
// over several steps, one of them partly filled, and that a purge with
// nothing left to delete finds nothing.
func TestPurgeExpiredKeysWalksEveryStep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTemp(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const keys = 2*purgeKeysStep + purgeKeysStep/3
	tx, err := s.w.conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	expired := 0
	for i := range keys {
		expires := now.Add(time.Minute)
		// The last key of each step and of the last one too.
		if i%3 == 0 || i%purgeKeysStep == purgeKeysStep-1 || i == keys-1 {
			expires, expired = now.Add(-time.Duration(i)*time.Second), expired+1
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, run_id, expires_at) VALUES (?, ?, ?)`,
			fmt.Sprintf("k:%06d", i), store.NewRunID(), encodeTime(expires))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())

	n, err := s.PurgeExpiredKeys(ctx, now)
	require.NoError(t, err)
	require.EqualValues(t, expired, n)
	var left, stale int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE expires_at <= ?)
		FROM idempotency_keys`, encodeTime(now)).Scan(&left, &stale))
	require.Equal(t, keys-expired, left)
	require.Zero(t, stale)

	n, err = s.PurgeExpiredKeys(ctx, now)
	require.NoError(t, err)
	require.Zero(t, n)
}
