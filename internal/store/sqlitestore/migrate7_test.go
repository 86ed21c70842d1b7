package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// dumpRunTables returns every row of the tables migration 0007 rebuilds or
// re-indexes, and of their neighbours, as text in primary-key order,
// without the columns named in skip. The attempt log is dumped as it reads:
// from schema 0009 on, with the first attempts that step_records holds
// (their columns left out of step_records' rows). The message columns 0011
// adds to step_records are left out too (TestMigrate0011KeepsEveryDelivery
// checks them).
func dumpRunTables(t *testing.T, ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, skip ...string) map[string][]string {
	t.Helper()
	attempts := `SELECT * FROM step_attempts`
	rows, err := q.QueryContext(ctx, `SELECT 1 FROM pragma_table_info('step_records') WHERE name = 'first_status'`)
	require.NoError(t, err)
	if rows.Next() {
		attempts = `SELECT run_id, step_id, item, 1 AS attempt, first_provider AS provider, first_action AS action,
			first_status AS status, COALESCE(first_outcome, '') AS outcome, first_error_class AS error_class,
			first_error_message AS error_message, first_error_field AS error_field,
			COALESCE(first_retry_after_ms, 0) AS retry_after_ms, first_request_json AS request_json,
			first_response_json AS response_json, first_started_at AS started_at, first_finished_at AS finished_at
			FROM step_records WHERE first_status IS NOT NULL
			UNION ALL SELECT * FROM step_attempts`
	}
	require.NoError(t, rows.Close())
	out := map[string][]string{}
	for table, query := range map[string]string{
		"runs":             `SELECT * FROM runs ORDER BY id`,
		"idempotency_keys": `SELECT * FROM idempotency_keys ORDER BY key`,
		"deliveries":       `SELECT * FROM deliveries ORDER BY provider, message_id`,
		"step_records":     `SELECT * FROM step_records ORDER BY seq`,
		"step_attempts":    attempts + ` ORDER BY run_id, step_id, item, attempt`,
	} {
		rows, err := q.QueryContext(ctx, query)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var b strings.Builder
			for i, v := range vals {
				if slices.Contains(skip, cols[i]) || (table == "step_records" && (strings.HasPrefix(cols[i], "first_") || strings.HasPrefix(cols[i], "msg_"))) {
					continue
				}
				fmt.Fprintf(&b, "%s=%v;", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

// oldSchemaFile creates a store file at path with the first n migrations
// applied, as a herald of that schema left it, and returns every migration,
// the open file and a function that runs a statement on it or fails t.
func oldSchemaFile(t *testing.T, path string, n int) ([]migration, *sql.DB, func(q string, args ...any)) {
	t.Helper()
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Greater(t, len(ms), n)
	old, err := sql.Open("sqlite", connString(path, DefaultBusyTimeout, "journal_mode(WAL)", "foreign_keys(1)"))
	require.NoError(t, err)
	t.Cleanup(func() { old.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := old.ExecContext(t.Context(), q, args...)
		require.NoError(t, err, q)
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	for _, m := range ms[:n] {
		exec(m.sql)
		exec(`INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00.000000Z')`, m.version, m.name)
	}
	return ms, old, exec
}

// openMigrated closes old, the file at path, opens it as a store, which
// applies the migrations ms, and checks that every row of the run tables
// reads back as it was (runs.idempotency_key aside: 0008 adds it, and
// TestMigrate0008KeepsEveryKey checks it).
func openMigrated(t *testing.T, old *sql.DB, path string, ms []migration) *Store {
	t.Helper()
	ctx := t.Context()
	before := dumpRunTables(t, ctx, old, "idempotency_key")
	require.NoError(t, old.Close())
	s := openAt(t, path)
	var version int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version))
	require.Equal(t, len(ms), version)
	require.Equal(t, before, dumpRunTables(t, ctx, s.read, "idempotency_key"), "every row reads back as it was")
	return s
}

// TestMigrate0007KeepsEveryRow writes a schema 0006 file with runs of every
// status, their idempotency keys, step records, attempts and delivery index
// rows, opens it (which applies 0007: new runs indexes, two tables rebuilt
// WITHOUT ROWID) and checks that every row reads back identically, that
// the runs list answers each filter as a scan of the rows would, and that
// the rebuilt tables still cascade when a run is pruned.
func TestMigrate0007KeepsEveryRow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v6.db")
	ms, old, exec := oldSchemaFile(t, path, 6)
	statuses := []string{"queued", "running", "waiting", "needs_attention", "succeeded", "failed", "skipped", "canceled"}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 240 {
		id := fmt.Sprintf("01RUN%021d", i)
		at := encodeTime(start.Add(time.Duration(i%120) * time.Minute)) // pairs share a created_at
		status := statuses[i%len(statuses)]
		var finished, heartbeat any
		if store.Status(status).Final() {
			finished = at
		}
		owner := ""
		if status == "running" {
			owner, heartbeat = fmt.Sprintf("host-%d", i%3), at
			if i%16 == 1 {
				heartbeat = encodeTime(start.Add(2 * time.Hour)) // fresh at now
			}
		}
		exec(`INSERT INTO runs (id, workflow, status, trigger_json, inputs_json, attempt, owner, error, reason,
			trigger_kind, heartbeat_at, cancel_requested, created_at, started_at, finished_at, version)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)`,
			id, []string{"support", "digest"}[i%2], status, fmt.Sprintf(`{"kind":"webhook","n":%d}`, i),
			[]any{nil, `{"to":"a"}`}[i%2], owner, "", "", []string{"webhook", "cron", "api"}[i%3],
			heartbeat, at, at, finished, i%4)
		exec(`INSERT INTO idempotency_keys (key, run_id, expires_at, fingerprint) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("delivery:chatapi:%d", i), id, at, []string{"", "fp"}[i%2])
		exec(`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, output_json, started_at)
			VALUES (?, 'notify', -1, 'succeeded', 1, 'chatapi', '{"id":"m"}', ?)`, id, at)
		exec(`INSERT INTO step_attempts (run_id, step_id, item, attempt, provider, action, status, outcome,
			request_json, started_at, finished_at) VALUES (?, 'notify', -1, 1, 'chatapi', 'send_message', 'succeeded',
			'succeeded', '{"method":"POST"}', ?, ?)`, id, at, at)
		exec(`INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item, status, at, event_json)
			VALUES ('chatapi', ?, 'message_ack', ?, 'notify', -1, ?, ?, ?)`, fmt.Sprintf("msg-%d", i), id,
			[]string{"", "delivered"}[i%2], []any{nil, at}[i%2], []any{nil, `{"ack":3}`}[i%2])
	}
	s := openMigrated(t, old, path, ms)

	now := start.Add(2 * time.Hour)
	requireListsAnswerAsAScan(t, s, 240, now)

	unfinished, err := s.UnfinishedRuns(ctx)
	require.NoError(t, err)
	require.Len(t, unfinished, 60)

	// The rebuilt tables still cascade from runs.
	n, err := s.PruneRuns(ctx, now, 1000)
	require.NoError(t, err)
	require.EqualValues(t, 120, n, "the final runs")
	for table, left := range map[string]int{"idempotency_keys": 120, "deliveries": 120} {
		var count int
		require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&count))
		require.Equal(t, left, count, table)
	}
}

// requireListsAnswerAsAScan checks that the runs list of s, which holds n
// runs, answers each filter (every status, a workflow, a trigger kind,
// times, and their mixes) as a scan of the rows does, newest first, page
// by page, with the heartbeats' age measured at now.
func requireListsAnswerAsAScan(t *testing.T, s *Store, n int, now time.Time) {
	t.Helper()
	ctx := t.Context()
	all, err := s.ListRuns(ctx, store.RunFilter{})
	require.NoError(t, err)
	require.Len(t, all, n)
	start := all[len(all)-1].CreatedAt
	require.True(t, slices.IsSortedFunc(all, func(a, b store.Run) int {
		return -strings.Compare(encodeTime(a.CreatedAt).(string)+a.ID, encodeTime(b.CreatedAt).(string)+b.ID)
	}), "newest first")
	filters := []store.RunFilter{{Workflow: "digest"}, {TriggerKind: "cron"}, {Since: start.Add(time.Hour)},
		{Until: start.Add(time.Hour)}, {Workflow: "support", Since: start.Add(30 * time.Minute), Until: start.Add(time.Hour)},
		{Workflow: "digest", TriggerKind: "api"}}
	for _, st := range append(slices.Clone(store.RunStatuses), "") {
		filters = append(filters, store.RunFilter{Status: st, Now: now}, store.RunFilter{Status: st, Workflow: "support", Now: now})
	}
	for _, f := range filters {
		var want []string
		for _, r := range all {
			ok := (f.Workflow == "" || r.Workflow == f.Workflow) && (f.TriggerKind == "" || r.TriggerKind == f.TriggerKind) &&
				(f.Since.IsZero() || !r.CreatedAt.Before(f.Since)) && (f.Until.IsZero() || r.CreatedAt.Before(f.Until))
			switch {
			case f.Status == "":
			case f.Status == store.StatusInterrupted:
				ok = ok && r.Status == store.StatusRunning && r.HeartbeatAt.Before(now.Add(-store.HeartbeatStale()))
			case f.Status == store.StatusRunning:
				ok = ok && r.Status == store.StatusRunning && !r.HeartbeatAt.Before(now.Add(-store.HeartbeatStale()))
			default:
				ok = ok && r.Status == f.Status
			}
			if ok {
				want = append(want, r.ID)
			}
		}
		var got []string
		page := f
		page.Limit = 7
		for {
			runs, err := s.ListRuns(ctx, page)
			require.NoError(t, err)
			for _, r := range runs {
				got = append(got, r.ID)
			}
			if len(runs) < page.Limit {
				break
			}
			page.Before = runs[len(runs)-1].ID
		}
		require.Equal(t, want, got, "%+v", f)
		if f.Workflow == "" && (f.Status == store.StatusRunning || f.Status == store.StatusInterrupted) {
			require.NotEmpty(t, got, "%+v", f)
		}
	}
}
