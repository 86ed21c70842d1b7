package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// oldAttemptLog is the attempt log as a store of schema 0008 read it: every
// attempt in step_attempts.
const oldAttemptLog = `SELECT a.run_id, a.step_id, a.item, a.attempt, a.provider, a.action, a.status,
		a.outcome, a.error_class, a.error_message, a.error_field, a.retry_after_ms, a.request_json,
		a.response_json, a.started_at, a.finished_at
	FROM {schema}.step_attempts a
	JOIN (SELECT step_id, min(seq) AS first_seq FROM {schema}.step_records WHERE run_id = $1 GROUP BY step_id) o
		ON o.step_id = a.step_id
	WHERE a.run_id = $1 ORDER BY o.first_seq, a.item, a.attempt`

// openAtVersion opens a store in a new schema migrated up to version only,
// as an older herald left it.
func openAtVersion(t *testing.T, version int) *Store {
	t.Helper()
	ctx := context.Background()
	schema := newSchemaName(t)
	pool, err := pgxpool.New(ctx, testDSN(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := OpenPool(ctx, pool, Options{Schema: schema, SkipMigrate: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	applied, err := s.migrateTo(ctx, version)
	require.NoError(t, err)
	require.Len(t, applied, version)
	return s
}

// TestMigrate0009KeepsEveryAttempt writes a schema 0008 holding runs of
// every status, their step records (for_each items, records without an
// attempt, several steps) and their attempts (first attempts running, in
// doubt, failed with every error column, with a masked exchange and a
// retry-after; later attempts running and finished); applies 0009 (the
// first attempts move into their records' rows) and checks that every
// step record and every attempt reads back as it was, that step_attempts
// keeps only later attempts, and that the moved attempts are live: a
// running first attempt finishes, a started one cannot start again, a
// running later attempt finishes, a succeeded step refuses an attempt.
func TestMigrate0009KeepsEveryAttempt(t *testing.T) {
	t.Parallel()
	s := openAtVersion(t, 8)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := s.pool.Exec(ctx, s.sql(q), args...)
		require.NoError(t, err)
	}
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	statuses := []store.Status{store.StatusQueued, store.StatusRunning, store.StatusWaiting,
		store.StatusNeedsAttention, store.StatusSucceeded, store.StatusFailed, store.StatusSkipped, store.StatusCanceled}
	type attempt struct {
		step           string
		item, number   int
		status         string
		class, outcome string
		exchange       bool
	}
	type record struct {
		step, status string
		item         int
	}
	runIDs := map[store.Status]string{}
	for i, status := range statuses {
		id := fmt.Sprintf("01MIGRATE9RUN%013d", i)
		runIDs[status] = id
		at := start.Add(time.Duration(i) * time.Minute)
		var finished any
		if status.Final() {
			finished = at.Add(time.Second)
		}
		exec(`INSERT INTO {schema}.runs (id, workflow, status, attempt, owner, trigger_kind, created_at, started_at, finished_at)
			VALUES ($1, 'support', $2, 1, 'host-a', 'webhook', $3, $3, $4)`, id, string(status), at, finished)
		var (
			recs []record
			atts []attempt
		)
		switch status {
		case store.StatusQueued: // nothing started
		case store.StatusRunning: // its first attempt in doubt
			recs = []record{{"notify", "running", -1}}
			atts = []attempt{{"notify", -1, 1, "running", "", "", false}}
		case store.StatusWaiting: // a step done, a wait without attempts
			recs = []record{{"notify", "succeeded", -1}, {"pause", "waiting", -1}}
			atts = []attempt{{"notify", -1, 1, "succeeded", "", "succeeded", true}}
		case store.StatusNeedsAttention: // a failed first attempt, a later one running
			recs = []record{{"notify", "needs_attention", -1}}
			atts = []attempt{{"notify", -1, 1, "failed", "retryable", "retryable", true},
				{"notify", -1, 2, "running", "", "", false}}
		case store.StatusSucceeded: // a fan-out, its items retried
			recs = []record{{"lookup", "succeeded", -1}, {"each", "succeeded", 0}, {"each", "succeeded", 1}}
			atts = []attempt{{"lookup", -1, 1, "succeeded", "", "succeeded", false},
				{"each", 0, 1, "failed", "rate_limited", "rate_limited", true},
				{"each", 0, 2, "succeeded", "", "succeeded", true},
				{"each", 1, 1, "succeeded", "", "succeeded", true}}
		case store.StatusFailed:
			recs = []record{{"notify", "failed", -1}}
			atts = []attempt{{"notify", -1, 1, "failed", "permanent", "permanent", true}}
		case store.StatusSkipped:
			recs = []record{{"notify", "skipped", -1}}
		case store.StatusCanceled:
			recs = []record{{"notify", "canceled", -1}}
			atts = []attempt{{"notify", -1, 1, "canceled", "", "", false}}
		}
		for _, r := range recs {
			var out, done any
			if r.status != "running" && r.status != "waiting" {
				out, done = fmt.Sprintf(`{"step":%q}`, r.step), at.Add(time.Second)
			}
			exec(`INSERT INTO {schema}.step_records (run_id, step_id, item, status, attempts, provider, output_json,
				started_at, finished_at) VALUES ($1, $2, $3, $4, 2, 'chatapi', $5, $6, $7)`,
				id, r.step, r.item, r.status, out, at, done)
		}
		for _, a := range atts {
			var (
				done                   any
				class, message, field  any
				retryAfter             int64
				request, response, act any = nil, nil, "send_message"
			)
			if a.status != "running" {
				done = at.Add(time.Duration(a.number) * time.Second)
			}
			if a.class != "" {
				class, message, field = a.class, "provider said no to "+a.step, "body.phone"
				if a.class == "rate_limited" {
					retryAfter = 1500
				}
			}
			if a.exchange {
				request = `{"method":"POST","url":"https://x/sendMessage?token=***","body":{"phone":"1"}}`
				response = fmt.Sprintf(`{"status":200,"body":{"attempt":%d}}`, a.number)
			}
			exec(`INSERT INTO {schema}.step_attempts (run_id, step_id, item, attempt, provider, action, status, outcome,
				error_class, error_message, error_field, retry_after_ms, request_json, response_json, started_at, finished_at)
				VALUES ($1, $2, $3, $4, 'chatapi', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
				id, a.step, a.item, a.number, act, a.status, a.outcome, class, message, field, retryAfter,
				request, response, at, done)
		}
	}

	// What a store of schema 0008 read.
	wantRecs := map[string][]store.StepRecord{}
	wantAtts := map[string][]store.Attempt{}
	for _, id := range runIDs {
		recs, err := s.StepRecords(ctx, id)
		require.NoError(t, err)
		wantRecs[id] = recs
		rows, err := s.pool.Query(ctx, s.sql(oldAttemptLog), id)
		require.NoError(t, err)
		atts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Attempt, error) { return scanAttempt(row) })
		require.NoError(t, err)
		wantAtts[id] = atts
	}
	require.Len(t, wantAtts[runIDs[store.StatusSucceeded]], 4)

	applied, err := s.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, []Migration{{Version: 9, Name: "first_attempt_in_step_record"}}, applied)

	for status, id := range runIDs {
		recs, err := s.StepRecords(ctx, id)
		require.NoError(t, err)
		require.Equal(t, wantRecs[id], recs, "step records of the %s run", status)
		atts, err := s.Attempts(ctx, id)
		require.NoError(t, err)
		require.Equal(t, wantAtts[id], atts, "attempts of the %s run", status)
	}
	var firsts, later int
	require.NoError(t, s.queryRow(ctx, `SELECT count(*) FILTER (WHERE attempt = 1), count(*) FILTER (WHERE attempt > 1)
		FROM {schema}.step_attempts`).Scan(&firsts, &later))
	require.Zero(t, firsts, "every first attempt is in its record's row")
	require.Equal(t, 2, later)

	// The moved attempts are live.
	now := start.Add(time.Hour)
	inDoubt := store.StepKey{RunID: runIDs[store.StatusRunning], StepID: "notify", Item: store.NoItem}
	require.ErrorIs(t, s.StartAttempt(ctx, inDoubt, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}),
		store.ErrConflict, "a moved first attempt was started")
	require.NoError(t, s.FinishAttempt(ctx, inDoubt, 1, store.AttemptResult{Status: store.StatusSucceeded,
		Output: []byte(`{"id":"m1"}`), FinishedAt: now}))
	require.ErrorIs(t, s.FinishAttempt(ctx, inDoubt, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: now}),
		store.ErrConflict, "finished already")
	atts, err := s.Attempts(ctx, inDoubt.RunID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, store.StatusSucceeded, atts[0].Status)
	require.Equal(t, now, atts[0].FinishedAt)

	attention := store.StepKey{RunID: runIDs[store.StatusNeedsAttention], StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.FinishAttempt(ctx, attention, 2, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: now}))
	atts, err = s.Attempts(ctx, attention.RunID)
	require.NoError(t, err)
	require.Len(t, atts, 2)
	require.Equal(t, wantAtts[attention.RunID][0], atts[0], "the first attempt is left alone")
	require.Equal(t, store.StatusSucceeded, atts[1].Status)

	done := store.StepKey{RunID: runIDs[store.StatusSucceeded], StepID: "lookup", Item: store.NoItem}
	require.ErrorIs(t, s.StartAttempt(ctx, done, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: now}),
		store.ErrConflict, "the step succeeded")
	require.ErrorIs(t, s.StartAttempt(ctx, done, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}),
		store.ErrConflict, "the step succeeded")
}
