package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// queryPlan returns SQLite's query plan of query, one step a line.
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.read.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// TestRunQueriesUseAnIndex checks the plan of every shape of runs list
// query, and of the other reads of runs by status: each reads an index in
// the order of the page (no sort of its own, no scan of the table), the
// status filters through the partial indexes of migration 0007, whose
// condition the query must name for SQLite to use them.
func TestRunQueriesUseAnIndex(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	filters := []store.RunFilter{
		{}, {Workflow: "w"}, {TriggerKind: "webhook", Since: since}, {Since: since, Until: since.Add(time.Hour)},
	}
	for _, st := range store.RunStatuses {
		filters = append(filters, store.RunFilter{Status: st}, store.RunFilter{Status: st, Workflow: "w"})
	}
	for _, f := range slices.Clone(filters) {
		f.Before = "01CURSOR"
		filters = append(filters, f)
	}
	for _, f := range filters {
		f.Limit = 50
		query, args := listRunsQuery(f, "2026-11-01T00:00:00.000000Z")
		plan := queryPlan(t, s, query, args...)
		requireEveryReadIndexed(t, plan, f)
		require.NotContains(t, plan, "TEMP B-TREE", "%+v:\n%s", f, plan)
		if f.Status == "" && f.TriggerKind == "" {
			// One arm per stored status, merged (migration 0012).
			require.Equal(t, len(storedRunStatuses), strings.Count(plan, "SEARCH runs"), "%+v:\n%s", f, plan)
			require.Contains(t, plan, "MERGE (UNION ALL)", "%+v:\n%s", f, plan)
		}
		switch f.Status {
		case "":
		case store.StatusQueued, store.StatusRunning, store.StatusInterrupted:
			if f.Before == "" {
				require.Contains(t, plan, "runs_unfinished", "%+v", f)
			}
		default:
			if f.Before == "" {
				require.Contains(t, plan, "_settled_created", "%+v", f)
			}
		}
	}
	for _, query := range []string{
		`SELECT ` + runColumns + ` FROM runs WHERE ` + unfinishedRunsCond + ` ORDER BY created_at, id`,
		// The heartbeat's statements (history.go).
		`UPDATE runs SET heartbeat_at = 'x' WHERE ` + unfinishedRunsCond + ` AND status = 'running' AND owner = 'o'`,
		`SELECT id FROM runs WHERE ` + unfinishedRunsCond + ` AND status = 'running' AND owner = 'o'
			AND cancel_requested <> '' ORDER BY id`,
		// The retention's (history.go).
		pruneRunsQuery,
	} {
		var args []any
		if query == pruneRunsQuery {
			args = []any{"1", 5}
		}
		plan := queryPlan(t, s, query, args...)
		requireEveryReadIndexed(t, plan, query)
		if query == pruneRunsQuery {
			// The final statuses' arms, merged in the order of the delete.
			require.NotContains(t, plan, "TEMP B-TREE", "%s:\n%s", query, plan)
			require.Equal(t, 4, strings.Count(plan, "USING INDEX runs_settled_created"), "%s:\n%s", query, plan)
		}
		if strings.Contains(query, "owner") {
			// The running runs are read from runs_unfinished (migration 0010).
			require.Contains(t, plan, "USING INDEX runs_unfinished", "%s:\n%s", query, plan)
		}
	}
}

// requireEveryReadIndexed fails t, saying what (a query or a filter),
// unless every read of a table in plan goes through an index (a subquery's
// rows are read as they are made).
func requireEveryReadIndexed(t *testing.T, plan string, what any) {
	t.Helper()
	tables := 0
	for _, line := range strings.Split(plan, "\n") {
		line = strings.TrimLeft(line, "|`- ")
		if (strings.HasPrefix(line, "SCAN ") || strings.HasPrefix(line, "SEARCH ")) && !strings.Contains(line, " (subquery-") {
			tables++
			require.Regexp(t, `USING (COVERING )?INDEX `, line, "%v:\n%s", what, plan)
		}
	}
	require.NotZero(t, tables, "%v:\n%s", what, plan)
}

// TestMessageQueriesUseAnIndex checks the plans of the reads of a message
// kept in its step record's row (migration 0011): a receipt's and the
// bind's checks find it through step_records_message, a run's messages
// through the records' key index, and deliveries keeps its own.
func TestMessageQueriesUseAnIndex(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	for query, index := range map[string]string{
		`SELECT ` + recordMessageColumns + `, seq FROM step_records WHERE msg_provider = 'p' AND msg_id = 'm'`: "step_records_message",
		`SELECT seq, run_id, step_id, item FROM step_records WHERE msg_provider = 'p' AND msg_id = 'm'`:        "step_records_message",
		`SELECT NOT EXISTS (SELECT 1 FROM step_records WHERE msg_provider = 'p' AND msg_id = 'm')`:             "step_records_message",
		`SELECT ` + recordMessageColumns + ` FROM step_records WHERE run_id = 'r' AND msg_id IS NOT NULL`:      "sqlite_autoindex_step_records_1",
		`SELECT ` + deliveryColumns + ` FROM deliveries WHERE run_id = 'r'`:                                    "deliveries_run",
	} {
		plan := queryPlan(t, s, query)
		require.Regexp(t, "USING (COVERING )?INDEX "+index+" ", plan, "%s", query)
	}
}

// explainProgram returns the program SQLite compiles for query with args
// bound, one instruction a line.
func explainProgram(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.read.db.QueryContext(context.Background(), `EXPLAIN `+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		lines = append(lines, fmt.Sprint(vals...))
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// TestRunListsDoNotDependOnTheLimit checks that the program SQLite compiles
// for each shape of runs list query is the same whatever page size is
// bound. SQLite compiles the value of a plain LIMIT ? into the program, and
// then prepares the statement again each time the value is bound, which the
// reader's cached statement is on every call: a console page cost 1.75
// times its instructions so.
func TestRunListsDoNotDependOnTheLimit(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []store.RunFilter{
		{}, {Workflow: "w"}, {TriggerKind: "webhook", Since: since}, {Status: store.StatusFailed},
		{Status: store.StatusRunning, Before: "01CURSOR"},
	} {
		f.Limit = 50
		query, args := listRunsQuery(f, "2026-11-01T00:00:00.000000Z")
		fifty := explainProgram(t, s, query, args...)
		f.Limit = 7
		query, args = listRunsQuery(f, "2026-11-01T00:00:00.000000Z")
		seven := explainProgram(t, s, query, args...)
		if fifty != seven {
			a, b := strings.Split(fifty, "\n"), strings.Split(seven, "\n")
			i := 0
			for i < min(len(a), len(b)) && a[i] == b[i] {
				i++
			}
			t.Fatalf("%+v: the program differs with the limit bound, from instruction %d:\n%q\n%q", f, i,
				a[min(i, len(a)-1)], b[min(i, len(b)-1)])
		}
	}
}
