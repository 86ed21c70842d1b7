package sqlitestore

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestMigrate0012KeepsEveryRun writes a schema 0011 file with runs of every
// status, of two workflows and three trigger kinds (pairs sharing a
// created_at), with and without a trigger, inputs and an idempotency key,
// their step records (a first attempt and a message in the row, or none),
// a delivery index row and an operator's log entry; opens it (which applies
// 0012: runs_created and runs_workflow_created dropped) and checks that every
// row reads back as it was, that runs keeps exactly its other indexes, that
// the runs list answers each filter as a scan of the rows would, and that
// the retention prunes the oldest final runs first, whatever their status,
// with everything that hangs off them.
func TestMigrate0012KeepsEveryRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v11.db")
	ms, old, exec := oldSchemaFile(t, path, 11)
	statuses := []string{"queued", "running", "waiting", "needs_attention", "succeeded", "failed", "skipped", "canceled"}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type final struct{ id, created string }
	var finals []final
	const n = 200
	for i := range n {
		id := fmt.Sprintf("01RUN%021d", i)
		// Pairs share a created_at, and the order of creation is not the
		// order of the IDs.
		at := encodeTime(start.Add(time.Duration((n-1-i)/2) * time.Minute)).(string)
		status := statuses[(i*3)%len(statuses)]
		var finished, heartbeat, key, trigger, inputs any
		if store.Status(status).Final() {
			finished = at
			finals = append(finals, final{id, at})
		}
		owner := ""
		if status == "running" {
			owner, heartbeat = fmt.Sprintf("host-%d", i%3), at
			if i%5 == 0 {
				heartbeat = encodeTime(start.Add(2 * time.Hour)) // fresh at now
			}
		}
		if i%3 != 0 {
			key = fmt.Sprintf("delivery:chatapi:%d", i)
			exec(`INSERT INTO idempotency_keys (key, run_id, expires_at, fingerprint) VALUES (?, ?, ?, ?)`,
				key, id, at, []string{"", "fp"}[i%2])
		}
		if i%4 != 0 {
			trigger = fmt.Sprintf(`{"kind":"webhook","n":%d}`, i)
		}
		if i%2 == 1 {
			inputs = `{"to":"a"}`
		}
		exec(`INSERT INTO runs (id, workflow, status, trigger_json, inputs_json, attempt, owner, error, reason,
			trigger_kind, heartbeat_at, cancel_requested, created_at, started_at, finished_at, version, idempotency_key)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, []string{"support", "digest"}[i%2], status, trigger, inputs, owner,
			[]string{"", "boom"}[i%2], []string{"", "why"}[i%3%2], []string{"webhook", "cron", "api"}[i%3],
			heartbeat, []string{"", "cli"}[i%7%2], at, at, finished, i%4, key)
		if i%5 == 4 {
			continue // a run without step records
		}
		var msg any
		if i%2 == 0 {
			msg = fmt.Sprintf("m%d", i)
		}
		exec(`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, output_json, started_at,
			first_provider, first_action, first_status, first_outcome, first_request_json, first_started_at,
			msg_provider, msg_id, msg_event) VALUES (?, 'notify', -1, 'succeeded', 1, 'chatapi', '{"id":"m"}', ?,
			'chatapi', 'send_message', 'succeeded', 'succeeded', '{"method":"POST"}', ?, 'chatapi', ?, 'message_ack')`,
			id, at, at, msg)
		exec(`INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item, status)
			VALUES ('chatapi', ?, 'message_ack', ?, 'each', 0, '')`, fmt.Sprintf("d%d", i), id)
		exec(`INSERT INTO run_operations (run_id, at, by_whom, action) VALUES (?, ?, 'cli', 'retry')`, id, at)
	}
	s := openMigrated(t, old, path, ms)

	var indexes []string
	rows, err := s.read.QueryContext(ctx, `SELECT name FROM sqlite_master
		WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		indexes = append(indexes, name)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, []string{"runs_kind_created", "runs_settled_created", "runs_unfinished",
		"runs_workflow_settled_created", "sqlite_autoindex_runs_1"}, indexes)

	now := start.Add(2 * time.Hour)
	requireListsAnswerAsAScan(t, s, n, now)

	// The retention takes the oldest final runs first, across statuses.
	slices.SortFunc(finals, func(a, b final) int { return strings.Compare(a.created+a.id, b.created+b.id) })
	remaining := func() []string {
		var ids []string
		rows, err := s.read.QueryContext(ctx, `SELECT id FROM runs WHERE status IN ('succeeded', 'failed', 'skipped', 'canceled')`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(t, rows.Err())
		slices.Sort(ids)
		return ids
	}
	ids := func(fs []final) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.id)
		}
		slices.Sort(out)
		return out
	}
	for _, take := range []int{1, 9, 30} {
		got, err := s.PruneRuns(ctx, now, take)
		require.NoError(t, err)
		require.EqualValues(t, take, got)
		finals = finals[take:]
		require.Equal(t, ids(finals), remaining(), "the oldest %d final runs went", take)
	}
	got, err := s.PruneRuns(ctx, now, 1000)
	require.NoError(t, err)
	require.EqualValues(t, len(finals), got)
	require.Empty(t, remaining())
	for table, query := range map[string]string{
		"idempotency_keys": `SELECT COUNT(*) FROM idempotency_keys k WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = k.run_id)`,
		"step_records":     `SELECT COUNT(*) FROM step_records r WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = r.run_id)`,
		"deliveries":       `SELECT COUNT(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = d.run_id)`,
		"run_operations":   `SELECT COUNT(*) FROM run_operations o WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = o.run_id)`,
	} {
		var orphans int
		require.NoError(t, s.read.QueryRowContext(ctx, query).Scan(&orphans))
		require.Zero(t, orphans, table)
	}
	var left int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs`).Scan(&left))
	require.Equal(t, n/2, left, "the unfinished, waiting and needs_attention runs")
}
