package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// Constraints whose violations StartAttempt and RecordStep tell apart.
const (
	stepRecordsRunFK = "step_records_run_id_fkey"
	stepAttemptsPK   = "step_attempts_pkey"
)

// startAttempt upserts the step record and logs a later attempt (2 and
// on) in one statement, so one round trip makes both durable or neither.
// The upsert leaves a succeeded record alone and then returns no row, so no
// attempt is logged; an attempt number logged before violates
// step_attempts_pkey, which undoes the upsert with the rest of the
// statement. A first attempt is startFirstAttempt's.
const startAttempt = startAttemptRecord + "\n" + startAttemptLog

// startAttemptChecked is startAttempt as a statement that fails, writing
// nothing, when it logs no attempt (see failUnless).
const startAttemptChecked = startAttemptRecord + `, att AS (` + startAttemptLog + ` RETURNING 1)
SELECT ` + failUnless + ` FROM att`

// startAttemptRecord upserts the step record of startAttempt.
const startAttemptRecord = `WITH rec AS (
	INSERT INTO {schema}.step_records AS r (run_id, step_id, item, status, attempts, provider, started_at)
	VALUES ($1, $2, $3, 'running', $4, $5, $6)
	ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = 'running',
		attempts = GREATEST(r.attempts, excluded.attempts), provider = excluded.provider,
		started_at = COALESCE(r.started_at, excluded.started_at), finished_at = NULL
	WHERE r.status <> 'succeeded'
	RETURNING r.run_id
)`

// startAttemptLog logs the attempt of startAttempt, once per record
// upserted.
const startAttemptLog = `INSERT INTO {schema}.step_attempts (run_id, step_id, item, attempt, provider, action, status, started_at)
SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::text, $7::text, 'running', $6::timestamptz FROM rec`

// startFirstAttempt is startAttempt of attempt 1 (migration 0009): one
// upsert marks the record running and logs the attempt in the record's own
// row (the first_ columns). It changes no row when the record has
// succeeded or holds a first attempt already; startFirstRefusal tells
// which. Its arguments are startAttempt's ($4 is 1).
const startFirstAttempt = `INSERT INTO {schema}.step_records AS r (run_id, step_id, item, status, attempts, provider, started_at,
		first_provider, first_action, first_status, first_started_at)
	VALUES ($1, $2, $3, 'running', $4, $5, $6, $5, $7, 'running', $6)
	ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = 'running',
		attempts = GREATEST(r.attempts, excluded.attempts), provider = excluded.provider,
		started_at = COALESCE(r.started_at, excluded.started_at), finished_at = NULL,
		first_provider = excluded.first_provider, first_action = excluded.first_action,
		first_status = 'running', first_started_at = excluded.first_started_at
	WHERE r.status <> 'succeeded' AND r.first_status IS NULL`

// startFirstAttemptChecked is startFirstAttempt as a statement that fails,
// writing nothing, when it starts no attempt (see failUnless).
const startFirstAttemptChecked = `WITH rec AS (` + startFirstAttempt + ` RETURNING 1)
SELECT ` + failUnless + ` FROM rec`

// startFirstAttemptExplained is startFirstAttempt as a query of one row:
// how many attempts it started (0 or 1) and the record's status before
// it, NULL when there was none, to explain a refusal (see scanFirstStart).
// It is for a batch, whose callbacks cannot make a query of their own.
const startFirstAttemptExplained = `WITH rec AS (` + startFirstAttempt + ` RETURNING 1)
SELECT (SELECT count(*) FROM rec),
	(SELECT status FROM {schema}.step_records WHERE run_id = $1 AND step_id = $2 AND item = $3)`

// startAttemptFor returns the statement that starts attempt number:
// startFirstAttempt or startAttempt, checked (see failUnless) or not.
func startAttemptFor(number int, checked bool) string {
	return pickStatement(number == 1, checked,
		[2][2]string{{startAttempt, startAttemptChecked}, {startFirstAttempt, startFirstAttemptChecked}})
}

// pickStatement returns of texts, a write's statements, the one for a
// first attempt (texts[1]) or a later one (texts[0]), checked ([…][1]) or
// not ([…][0]).
func pickStatement(first, checked bool, texts [2][2]string) string {
	f, c := 0, 0
	if first {
		f = 1
	}
	if checked {
		c = 1
	}
	return texts[f][c]
}

// StartAttempt logs the start of an attempt and marks its step record running.
func (s *Store) StartAttempt(ctx context.Context, key store.StepKey, start store.AttemptStart) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	if err := start.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	if err := s.startAttemptOn(ctx, s, key, start); err != nil {
		return fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), err)
	}
	return nil
}

// startAttemptOn starts an attempt through q: the pool, or a transaction.
// A first attempt refused is explained by a read after the statement.
func (s *Store) startAttemptOn(ctx context.Context, q querier, key store.StepKey, start store.AttemptStart) error {
	tag, err := q.exec(ctx, startAttemptFor(start.Number, false), startAttemptArgs(key, start)...)
	if err == nil && tag.RowsAffected() == 0 && start.Number == 1 {
		var status pgtype.Text
		err = q.queryRow(ctx, `SELECT status FROM {schema}.step_records WHERE run_id = $1 AND step_id = $2 AND item = $3`,
			key.RunID, key.StepID, key.Item).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil // gone since: status stays NULL
		}
		if err == nil {
			err = startFirstRefusal(status)
		}
		return err
	}
	return startAttemptErr(key, tag, err)
}

// queueStartAttempt queues on b, a batch in a transaction, the start of
// an attempt with a callback that fails with the store's error when the
// attempt does not start.
func (s *Store) queueStartAttempt(b *pgx.Batch, key store.StepKey, start store.AttemptStart) {
	args := startAttemptArgs(key, start)
	if start.Number == 1 {
		b.Queue(s.sql(startFirstAttemptExplained), args...).QueryRow(func(row pgx.Row) error {
			return scanFirstStart(key, row)
		})
		return
	}
	b.Queue(s.sql(startAttempt), args...).Exec(func(tag pgconn.CommandTag) error {
		return startAttemptErr(key, tag, nil)
	})
}

// startAttemptArgs are the arguments of startAttempt and startFirstAttempt.
func startAttemptArgs(key store.StepKey, start store.AttemptStart) []any {
	return []any{key.RunID, key.StepID, key.Item, start.Number, start.Provider, encodeTime(start.StartedAt), start.Action}
}

// startAttemptErr explains the outcome of startAttempt: its error, or a
// statement that changed no row, as the store's errors.
func startAttemptErr(key store.StepKey, tag pgconn.CommandTag, err error) error {
	switch {
	case violates(err, codeForeignKey, stepRecordsRunFK):
		err = fmt.Errorf("run %s: %w", key.RunID, store.ErrNotFound)
	case violates(err, codeUnique, stepAttemptsPK):
		err = errAttemptStarted
	case err == nil && tag.RowsAffected() == 0:
		err = errStepSucceeded
	}
	return err
}

// The refusals of an attempt's start.
var (
	errStepSucceeded  = fmt.Errorf("step already succeeded: %w", store.ErrConflict)
	errAttemptStarted = fmt.Errorf("attempt was already started: %w", store.ErrConflict)
)

// startFirstRefusal explains why startFirstAttempt changed no row, from
// the record's status before it (NULL for none).
func startFirstRefusal(status pgtype.Text) error {
	if status.String == string(store.StatusSucceeded) {
		return errStepSucceeded
	}
	return errAttemptStarted
}

// scanFirstStart reads the row of startFirstAttemptExplained and explains
// a refusal.
func scanFirstStart(key store.StepKey, row pgx.Row) error {
	var (
		started int64
		status  pgtype.Text
	)
	if err := row.Scan(&started, &status); err != nil {
		return startAttemptErr(key, pgconn.CommandTag{}, err)
	}
	if started == 1 {
		return nil
	}
	return startFirstRefusal(status)
}

// finishAttempt finishes a running later attempt (2 and on) and applies
// its result to the step record in one statement, unless the record has
// succeeded: a late attempt that finishes after another one succeeded is
// logged but leaves the record alone. It returns how many attempts it
// finished (0 or 1) and the attempt's status before the statement, NULL
// when it was never started, to explain a refusal. A first attempt is
// finishFirstAttempt's.
const finishAttempt = finishAttemptCTEs + `
SELECT (SELECT count(*) FROM att), (SELECT status FROM prev)`

// finishAttemptChecked is finishAttempt as a statement that fails, writing
// nothing, when it finishes no attempt (see failUnless).
const finishAttemptChecked = finishAttemptCTEs + `
SELECT ` + failUnless + ` FROM att`

// finishAttemptCTEs are the writes of finishAttempt.
const finishAttemptCTEs = `WITH prev AS (
	SELECT status FROM {schema}.step_attempts
	WHERE run_id = $1 AND step_id = $2 AND item = $3 AND attempt = $4
), att AS (
	UPDATE {schema}.step_attempts SET status = $5, finished_at = $6,
		error_class = $7, error_message = $8, error_field = $9, outcome = $13, retry_after_ms = $14,
		request_json = $15, response_json = $16
	WHERE run_id = $1 AND step_id = $2 AND item = $3 AND attempt = $4 AND status = 'running'
	RETURNING 1
), rec AS (
	UPDATE {schema}.step_records SET status = $10, output_json = $11, finished_at = $12,
		error_class = $7, error_message = $8, error_field = $9
	WHERE run_id = $1 AND step_id = $2 AND item = $3 AND status <> 'succeeded' AND EXISTS (SELECT 1 FROM att)
	RETURNING 1
)`

// finishFirstAttemptUpdate finishes a running first attempt, in its step
// record's row, and applies its result to the record unless the record has
// succeeded (a SET expression reads the row as it was before the update),
// in one statement on one row. Its arguments are finishAttempt's ($4 is 1).
const finishFirstAttemptUpdate = `UPDATE {schema}.step_records SET first_status = $5, first_finished_at = $6,
		first_error_class = $7, first_error_message = $8, first_error_field = $9, first_outcome = $13,
		first_retry_after_ms = $14, first_request_json = $15, first_response_json = $16,
		status = CASE WHEN status = 'succeeded' THEN status ELSE $10 END,
		output_json = CASE WHEN status = 'succeeded' THEN output_json ELSE $11 END,
		finished_at = CASE WHEN status = 'succeeded' THEN finished_at ELSE $12 END,
		error_class = CASE WHEN status = 'succeeded' THEN error_class ELSE $7 END,
		error_message = CASE WHEN status = 'succeeded' THEN error_message ELSE $8 END,
		error_field = CASE WHEN status = 'succeeded' THEN error_field ELSE $9 END
	WHERE run_id = $1 AND step_id = $2 AND item = $3 AND first_status = 'running' AND $4::bigint = 1
	RETURNING 1`

// finishFirstAttempt is finishAttempt of attempt 1: the same row, read as
// scanFinish reads it.
const finishFirstAttempt = `WITH prev AS (
	SELECT first_status AS status FROM {schema}.step_records WHERE run_id = $1 AND step_id = $2 AND item = $3
), att AS (` + finishFirstAttemptUpdate + `)
SELECT (SELECT count(*) FROM att), (SELECT status FROM prev)`

// finishFirstAttemptChecked is finishFirstAttempt as a statement that
// fails, writing nothing, when it finishes no attempt (see failUnless).
const finishFirstAttemptChecked = `WITH att AS (` + finishFirstAttemptUpdate + `)
SELECT ` + failUnless + ` FROM att`

// finishAttemptFor returns the statement that finishes attempt:
// finishFirstAttempt or finishAttempt, checked (see failUnless) or not.
func finishAttemptFor(attempt int, checked bool) string {
	return pickStatement(attempt == 1, checked,
		[2][2]string{{finishAttempt, finishAttemptChecked}, {finishFirstAttempt, finishFirstAttemptChecked}})
}

// FinishAttempt logs the result of a started attempt and applies it to the
// step record.
func (s *Store) FinishAttempt(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult) error {
	if err := store.ValidateFinish(key, attempt, result); err != nil {
		return fmt.Errorf("finish attempt: %w", err)
	}
	if err := s.finishAttemptOn(ctx, s, key, attempt, result); err != nil {
		return fmt.Errorf("finish attempt %d of step %s: %w", attempt, keyName(key), err)
	}
	return nil
}

// finishAttemptOn finishes an attempt through q: the pool, or a
// transaction.
func (s *Store) finishAttemptOn(ctx context.Context, q querier, key store.StepKey, attempt int, result store.AttemptResult) error {
	return scanFinish(q.queryRow(ctx, finishAttemptFor(attempt, false), finishAttemptArgs(key, attempt, result)...))
}

// finishAttemptArgs are the arguments of finishAttempt.
func finishAttemptArgs(key store.StepKey, attempt int, result store.AttemptResult) []any {
	class, message, field := errorColumns(result.Error)
	recStatus, finished := result.Status, encodeTime(result.FinishedAt)
	if result.WillRetry {
		recStatus, finished = store.StatusRunning, nil
	}
	return []any{key.RunID, key.StepID, key.Item, attempt,
		string(result.Status), encodeTime(result.FinishedAt), class, message, field,
		string(recStatus), encodeJSON(result.Output), finished,
		string(store.OutcomeOf(result)), result.RetryAfter.Milliseconds(),
		encodeJSON(result.Request), encodeJSON(result.Response)}
}

// scanFinish reads the row of finishAttempt and explains a refusal.
func scanFinish(row pgx.Row) error {
	var (
		done int64
		prev pgtype.Text
	)
	err := row.Scan(&done, &prev)
	if err == nil {
		switch {
		case done == 1:
			return nil
		case !prev.Valid:
			err = fmt.Errorf("attempt was never started: %w", store.ErrNotFound)
		case prev.String == string(store.StatusRunning):
			err = fmt.Errorf("attempt was finished concurrently: %w", store.ErrConflict)
		default:
			err = fmt.Errorf("attempt already finished as %s: %w", prev.String, store.ErrConflict)
		}
	}
	return err
}

// recordStep upserts a step record, leaving a succeeded one alone.
const recordStep = `INSERT INTO {schema}.step_records AS r (run_id, step_id, item, status, attempts, provider,
	output_json, error_class, error_message, error_field, started_at, finished_at, reason, total)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = excluded.status,
		attempts = excluded.attempts, provider = excluded.provider, output_json = excluded.output_json,
		error_class = excluded.error_class, error_message = excluded.error_message,
		error_field = excluded.error_field, started_at = excluded.started_at,
		finished_at = excluded.finished_at, reason = excluded.reason, total = excluded.total
	WHERE r.status <> 'succeeded'`

// RecordStep writes rec as the step record for its key.
func (s *Store) RecordStep(ctx context.Context, rec store.StepRecord) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	class, message, field := errorColumns(rec.Error)
	tag, err := s.exec(ctx, recordStep,
		rec.RunID, rec.StepID, rec.Item, string(rec.Status), rec.Attempts, rec.Provider,
		encodeJSON(rec.Output), class, message, field, encodeTime(rec.StartedAt), encodeTime(rec.FinishedAt),
		rec.Reason, rec.Total)
	switch {
	case violates(err, codeForeignKey, stepRecordsRunFK):
		err = fmt.Errorf("run %s: %w", rec.RunID, store.ErrNotFound)
	case err == nil && tag.RowsAffected() == 0:
		err = fmt.Errorf("step already succeeded: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("record step %s: %w", keyName(rec.StepKey), err)
	}
	return nil
}

// StepRecords returns the run's step records in step creation order (the
// first record of each step ID), then item order.
func (s *Store) StepRecords(ctx context.Context, runID string) ([]store.StepRecord, error) {
	rows, err := s.query(ctx, `SELECT r.run_id, r.step_id, r.item, r.status, r.attempts, r.provider, r.output_json,
			r.error_class, r.error_message, r.error_field, r.reason, r.total, r.started_at, r.finished_at
		FROM {schema}.step_records r WHERE r.run_id = $1
		ORDER BY min(r.seq) OVER (PARTITION BY r.step_id), r.item`, runID)
	if err != nil {
		return nil, fmt.Errorf("step records of run %s: %w", runID, err)
	}
	defer rows.Close()
	recs := []store.StepRecord{}
	for rows.Next() {
		var (
			rec               store.StepRecord
			status            string
			output            []byte
			errs              errorScan
			started, finished pgtype.Timestamptz
		)
		dests := append([]any{&rec.RunID, &rec.StepID, &rec.Item, &status, &rec.Attempts, &rec.Provider, &output},
			errs.dests()...)
		if err := rows.Scan(append(dests, &rec.Reason, &rec.Total, &started, &finished)...); err != nil {
			return nil, fmt.Errorf("step records of run %s: %w", runID, err)
		}
		rec.Status = store.Status(status)
		rec.Output = decodeJSON(output)
		rec.Error = errs.value()
		rec.StartedAt = decodeTime(started)
		rec.FinishedAt = decodeTime(finished)
		recs = append(recs, rec)
	}
	if err := s.emptyResult(ctx, rows.Err(), len(recs), runID); err != nil {
		return nil, fmt.Errorf("step records: %w", err)
	}
	return recs, nil
}

// attemptLog selects the attempts of run $1 in step order (the sequence
// number of each step's first record), then item and attempt order: the
// first attempts from their step records' rows (migration 0009), the later
// ones from step_attempts.
const attemptLog = `SELECT a.run_id, a.step_id, a.item, a.attempt, a.provider, a.action, a.status,
		a.outcome, a.error_class, a.error_message, a.error_field, a.retry_after_ms, a.request_json,
		a.response_json, a.started_at, a.finished_at
	FROM (
		SELECT run_id, step_id, item, 1::bigint AS attempt, first_provider AS provider, first_action AS action,
			first_status AS status, COALESCE(first_outcome, '') AS outcome, first_error_class AS error_class,
			first_error_message AS error_message, first_error_field AS error_field,
			COALESCE(first_retry_after_ms, 0) AS retry_after_ms, first_request_json AS request_json,
			first_response_json AS response_json, first_started_at AS started_at, first_finished_at AS finished_at
		FROM {schema}.step_records WHERE run_id = $1 AND first_status IS NOT NULL
		UNION ALL
		SELECT run_id, step_id, item, attempt, provider, action, status, outcome, error_class, error_message,
			error_field, retry_after_ms, request_json, response_json, started_at, finished_at
		FROM {schema}.step_attempts WHERE run_id = $1
	) a
	JOIN (SELECT step_id, min(seq) AS first_seq FROM {schema}.step_records WHERE run_id = $1 GROUP BY step_id) o
		ON o.step_id = a.step_id
	ORDER BY o.first_seq, a.item, a.attempt`

// Attempts returns the run's attempt log in step order, then attempt order.
func (s *Store) Attempts(ctx context.Context, runID string) ([]store.Attempt, error) {
	rows, err := s.query(ctx, attemptLog, runID)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %s: %w", runID, err)
	}
	defer rows.Close()
	attempts := []store.Attempt{}
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, fmt.Errorf("attempts of run %s: %w", runID, err)
		}
		attempts = append(attempts, a)
	}
	if err := s.emptyResult(ctx, rows.Err(), len(attempts), runID); err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	return attempts, nil
}

// scanAttempt reads one row of attemptLog's columns.
func scanAttempt(row pgx.Row) (store.Attempt, error) {
	var (
		a                 store.Attempt
		status            string
		errs              errorScan
		started, finished pgtype.Timestamptz
		outcome           string
		retryAfterMS      int64
		req, resp         []byte
	)
	dests := append([]any{&a.RunID, &a.StepID, &a.Item, &a.Number, &a.Provider, &a.Action, &status, &outcome},
		errs.dests()...)
	if err := row.Scan(append(dests, &retryAfterMS, &req, &resp, &started, &finished)...); err != nil {
		return store.Attempt{}, err
	}
	a.Status = store.Status(status)
	a.Outcome = store.Outcome(outcome)
	a.RetryAfter = time.Duration(retryAfterMS) * time.Millisecond
	a.Request, a.Response = decodeJSON(req), decodeJSON(resp)
	a.Error = errs.value()
	a.StartedAt = decodeTime(started)
	a.FinishedAt = decodeTime(finished)
	return a, nil
}

// emptyResult finishes a listing of a run's rows: it returns err, the
// listing's own error, if any; otherwise, when the listing found no row, an
// ErrNotFound error if the run does not exist. A run with rows exists, so the
// common case costs no second query.
func (s *Store) emptyResult(ctx context.Context, err error, n int, runID string) error {
	if err != nil {
		return classify(err)
	}
	if n > 0 {
		return nil
	}
	if err := s.runExists(ctx, runID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fmt.Errorf("run %s: %w", runID, err)
	}
	return nil
}

// keyName returns "run/step" or "run/step[item]", for messages.
func keyName(k store.StepKey) string {
	if k.Item == store.NoItem {
		return k.RunID + "/" + k.StepID
	}
	return fmt.Sprintf("%s/%s[%d]", k.RunID, k.StepID, k.Item)
}
