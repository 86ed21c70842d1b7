package sqlitestore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestMigrate0009KeepsEveryAttempt writes a schema 0008 file with step
// records of every shape: one attempt that succeeded, three attempts of
// which the first two failed (with an exchange, an error and a retry-after
// each), a first attempt still running (in doubt), a for_each step's items,
// a record with no attempt (a skipped step) and a late first attempt logged
// after a later one succeeded; opens it (which applies 0009: the first
// attempts move to their records' rows) and checks that every row of the
// attempt log and of the step records reads back identically, that no
// first attempt is left in step_attempts, and that the moved attempts are
// live: the running one finishes, a first attempt cannot start twice, a
// second one starts, and pruning a run takes its attempts.
func TestMigrate0009KeepsEveryAttempt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v8.db")
	ms, old, exec := oldSchemaFile(t, path, 8)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	runID := func(i int) string { return fmt.Sprintf("01RUN%021d", i) }
	attempt := func(id, step string, item, n int, status, outcome string, errClass, retryMS any, at string) {
		var finished, req, resp, msg any
		if status != "running" {
			finished = at
			req = fmt.Sprintf(`{"method":"POST","n":%d}`, n)
			resp = fmt.Sprintf(`{"status":%d}`, 200+n)
		}
		if errClass != nil {
			msg = fmt.Sprintf("attempt %d failed", n)
		}
		exec(`INSERT INTO step_attempts (run_id, step_id, item, attempt, provider, action, status, outcome,
			error_class, error_message, error_field, retry_after_ms, request_json, response_json, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, 'send_message', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, step, item, n, fmt.Sprintf("chatapi-%d", n%2), status, outcome, errClass, msg,
			map[bool]any{true: "body", false: nil}[errClass == "permanent"], retryMS, req, resp, at, finished)
	}
	record := func(id, step string, item int, status string, attempts int, at string) {
		exec(`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, output_json, reason, total,
			started_at, finished_at) VALUES (?, ?, ?, ?, ?, 'chatapi', ?, ?, ?, ?, ?)`,
			id, step, item, status, attempts, map[bool]any{true: `{"id":"m"}`, false: nil}[status == "succeeded"],
			map[bool]string{true: "when is false", false: ""}[status == "skipped"], max(item+1, 0), at,
			map[bool]any{true: nil, false: at}[status == "running"])
	}
	for i := range 60 {
		id := runID(i)
		at := encodeTime(start.Add(time.Duration(i) * time.Minute)).(string)
		status := "succeeded"
		if i%6 == 2 {
			status = "running"
		}
		exec(`INSERT INTO runs (id, workflow, status, trigger_json, attempt, owner, trigger_kind, created_at, started_at,
			finished_at) VALUES (?, 'support', ?, '{"kind":"webhook"}', 1, 'host-a', 'webhook', ?, ?, ?)`,
			id, status, at, at, map[bool]any{true: nil, false: at}[status == "running"])
		switch i % 6 {
		case 0: // one attempt
			record(id, "notify", -1, "succeeded", 1, at)
			attempt(id, "notify", -1, 1, "succeeded", "succeeded", nil, 0, at)
		case 1: // retried twice
			record(id, "notify", -1, "succeeded", 3, at)
			attempt(id, "notify", -1, 1, "failed", "rate_limited", "rate_limited", 1500, at)
			attempt(id, "notify", -1, 2, "failed", "retryable", "retryable", 0, at)
			attempt(id, "notify", -1, 3, "succeeded", "succeeded", nil, 0, at)
		case 2: // in doubt
			record(id, "notify", -1, "running", 1, at)
			attempt(id, "notify", -1, 1, "running", "", nil, 0, at)
		case 3: // a skipped step, then a for_each
			record(id, "gate", -1, "skipped", 0, at)
			for item := range 3 {
				record(id, "each", item, "failed", 1+item%2, at)
				attempt(id, "each", item, 1, "failed", "permanent", "permanent", 0, at)
				if item%2 == 1 {
					attempt(id, "each", item, 2, "failed", "permanent", "permanent", 0, at)
				}
			}
		case 4: // a late first attempt after the second succeeded
			record(id, "notify", -1, "succeeded", 2, at)
			attempt(id, "notify", -1, 1, "failed", "retryable", "retryable", 0, at)
			attempt(id, "notify", -1, 2, "succeeded", "succeeded", nil, 0, at)
		case 5: // two steps
			record(id, "notify", -1, "succeeded", 1, at)
			attempt(id, "notify", -1, 1, "succeeded", "succeeded", nil, 0, at)
			record(id, "escalate", -1, "failed", 1, at)
			attempt(id, "escalate", -1, 1, "failed", "permanent", "permanent", 0, at)
		}
	}
	logs := map[string][]store.Attempt{}
	s := openMigrated(t, old, path, ms) // every row reads back as it was
	for i := range 60 {
		got, err := s.Attempts(ctx, runID(i))
		require.NoError(t, err)
		logs[runID(i)] = got
	}

	var firsts, later, moved int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE attempt = 1),
		COUNT(*) FILTER (WHERE attempt > 1) FROM step_attempts`).Scan(&firsts, &later))
	require.NoError(t, s.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM step_records WHERE first_status IS NOT NULL`).Scan(&moved))
	require.Zero(t, firsts, "no first attempt is left in step_attempts")
	require.Equal(t, 10*(2+1+1), later)
	require.Equal(t, 10*(1+1+1+3+1+2), moved)

	// The attempt log of a run in order: steps by creation, items, attempts.
	require.Len(t, logs[runID(3)], 4)
	for j, want := range []struct{ item, n int }{{0, 1}, {1, 1}, {1, 2}, {2, 1}} {
		require.Equal(t, want.item, logs[runID(3)][j].Item)
		require.Equal(t, want.n, logs[runID(3)][j].Number)
	}
	require.Equal(t, []string{"notify", "escalate"},
		[]string{logs[runID(5)][0].StepID, logs[runID(5)][1].StepID})
	require.Equal(t, store.OutcomeRateLimited, logs[runID(1)][0].Outcome)
	require.Equal(t, 1500*time.Millisecond, logs[runID(1)][0].RetryAfter)
	require.JSONEq(t, `{"method":"POST","n":1}`, string(logs[runID(1)][0].Request))

	// The attempt in doubt finishes, and cannot start again; a second starts.
	key := store.StepKey{RunID: runID(2), StepID: "notify", Item: store.NoItem}
	now := start.Add(3 * time.Hour)
	require.ErrorIs(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}),
		store.ErrConflict)
	require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusFailed,
		Error: &store.StepError{Class: "retryable", Message: "in doubt"}, FinishedAt: now, WillRetry: true}))
	require.ErrorIs(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: now}),
		store.ErrConflict, "finished already")
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: now}))
	got, err := s.Attempts(ctx, key.RunID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, store.StatusFailed, got[0].Status)
	require.Equal(t, "in doubt", got[0].Error.Message)
	require.Equal(t, store.StatusRunning, got[1].Status)

	// Pruning takes a run's attempts, wherever they are.
	n, err := s.PruneRuns(ctx, start.Add(2*time.Hour), 1000)
	require.NoError(t, err)
	require.EqualValues(t, 50, n)
	var left int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM step_attempts)
		+ (SELECT COUNT(*) FROM step_records)`).Scan(&left))
	require.Equal(t, 11, left, "the ten running runs' records and run 2's second attempt")
}
