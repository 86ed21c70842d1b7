package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The refusals of writes that change no row, built once: see ifUnchanged.
var (
	errStepSucceeded  = fmt.Errorf("step already succeeded: %w", store.ErrConflict)
	errAttemptStarted = fmt.Errorf("attempt was already started: %w", store.ErrConflict)
	errRunIDTaken     = fmt.Errorf("run id is taken: %w", store.ErrConflict)
	errNoStepRecord   = fmt.Errorf("step record: %w", store.ErrNotFound)
)

// StartAttempt logs the start of an attempt and marks its step record running.
func (s *Store) StartAttempt(ctx context.Context, key store.StepKey, start store.AttemptStart) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	if err := start.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		return startAttempt(ctx, tx, key, start)
	})
	if err != nil {
		return fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), err)
	}
	return nil
}

// startAttempt upserts the step record of key as running and logs the
// attempt, in the caller's transaction. A first attempt is logged in the
// record's own row (the first_ columns), in the same statement; a later one
// in step_attempts.
func startAttempt(ctx context.Context, tx *wtx, key store.StepKey, start store.AttemptStart) error {
	if start.Number == 1 {
		return startFirstAttempt(ctx, tx, key, start)
	}
	// The upsert leaves a succeeded record alone and then changes no row.
	res, err := tx.ExecContext(ctx, `INSERT INTO step_records
		(run_id, step_id, item, status, attempts, provider, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)
		ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = 'running',
			attempts = MAX(attempts, excluded.attempts), provider = excluded.provider,
			started_at = COALESCE(started_at, excluded.started_at), finished_at = NULL
		WHERE status <> 'succeeded'`,
		key.RunID, key.StepID, key.Item, start.Number, start.Provider, tx.time(start.StartedAt))
	if err != nil {
		return missingRun(ctx, tx, key.RunID, err)
	}
	if err := ifUnchanged(res, errStepSucceeded); err != nil {
		return err
	}

	res, err = tx.ExecContext(ctx, `INSERT INTO step_attempts
		(run_id, step_id, item, attempt, provider, action, status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)
		ON CONFLICT DO NOTHING`,
		key.RunID, key.StepID, key.Item, start.Number, start.Provider, start.Action, tx.time(start.StartedAt))
	if err != nil {
		return err
	}
	return ifUnchanged(res, errAttemptStarted)
}

// startFirstAttempt is startAttempt of attempt 1: one upsert writes the
// record and the attempt, and changes no row when the record has succeeded
// or holds a first attempt already.
func startFirstAttempt(ctx context.Context, tx *wtx, key store.StepKey, start store.AttemptStart) error {
	at := tx.time(start.StartedAt)
	res, err := tx.ExecContext(ctx, `INSERT INTO step_records
		(run_id, step_id, item, status, attempts, provider, started_at,
			first_provider, first_action, first_status, first_started_at)
		VALUES (?1, ?2, ?3, 'running', 1, ?4, ?6, ?4, ?5, 'running', ?6)
		ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = 'running',
			attempts = MAX(attempts, 1), provider = excluded.provider,
			started_at = COALESCE(started_at, excluded.started_at), finished_at = NULL,
			first_provider = excluded.first_provider, first_action = excluded.first_action,
			first_status = 'running', first_started_at = excluded.first_started_at
		WHERE status <> 'succeeded' AND first_status IS NULL`,
		key.RunID, key.StepID, key.Item, start.Provider, start.Action, at)
	if err != nil {
		return missingRun(ctx, tx, key.RunID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var status string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM step_records WHERE run_id = ? AND step_id = ? AND item = ?`,
		key.RunID, key.StepID, key.Item).Scan(&status); err != nil {
		return err
	}
	if status == string(store.StatusSucceeded) {
		return errStepSucceeded
	}
	return errAttemptStarted
}

// FinishAttempt logs the result of a started attempt and applies it to the
// step record.
func (s *Store) FinishAttempt(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult) error {
	if err := store.ValidateFinish(key, attempt, result); err != nil {
		return fmt.Errorf("finish attempt: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		return finishAttempt(ctx, tx, key, attempt, result)
	})
	if err != nil {
		return fmt.Errorf("finish attempt %d of step %s: %w", attempt, keyName(key), err)
	}
	return nil
}

// finishAttempt logs the result of a running attempt and applies it to the
// step record, in the caller's transaction.
func finishAttempt(ctx context.Context, tx *wtx, key store.StepKey, attempt int, result store.AttemptResult) error {
	class, message, field := errorColumns(result.Error)
	recStatus, finished := finishedRecord(tx, result)
	if attempt == 1 {
		return finishFirstAttempt(ctx, tx, key, result, recStatus, finished)
	}
	res, err := tx.ExecContext(ctx, `UPDATE step_attempts SET status = ?, finished_at = ?,
		error_class = ?, error_message = ?, error_field = ?, outcome = ?, retry_after_ms = ?,
		request_json = ?, response_json = ?
		WHERE run_id = ? AND step_id = ? AND item = ? AND attempt = ? AND status = 'running'`,
		string(result.Status), tx.time(result.FinishedAt), class, message, field,
		string(store.OutcomeOf(result)), result.RetryAfter.Milliseconds(),
		tx.json(result.Request), tx.json(result.Response),
		key.RunID, key.StepID, key.Item, attempt)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return unfinishable(ctx, tx, key, attempt)
	}
	_, err = tx.ExecContext(ctx, `UPDATE step_records SET status = ?, output_json = ?, finished_at = ?,
		error_class = ?, error_message = ?, error_field = ?
		WHERE run_id = ? AND step_id = ? AND item = ? AND status <> 'succeeded'`,
		string(recStatus), tx.json(result.Output), finished, class, message, field,
		key.RunID, key.StepID, key.Item)
	return err
}

// finishedRecord returns the status and finish time (encoded) that result
// gives its step record: a result that will be retried leaves it running.
// (A record that has succeeded keeps its success: the statements leave it
// alone, for a late attempt finished after another one succeeded.)
func finishedRecord(tx *wtx, result store.AttemptResult) (store.Status, any) {
	if result.WillRetry {
		return store.StatusRunning, nil
	}
	return result.Status, tx.time(result.FinishedAt)
}

// finishFirstAttempt is finishAttempt of attempt 1, whose columns are in the
// record's row: one statement logs the result and, unless the record has
// succeeded, applies it to the record (a SET expression reads the row as it
// was before the update).
func finishFirstAttempt(ctx context.Context, tx *wtx, key store.StepKey, result store.AttemptResult,
	recStatus store.Status, recFinished any) error {
	_, err := finishFirstAttemptWith(ctx, tx, key, result, recStatus, recFinished, nil)
	return err
}

// finishFirstAttemptSet is the statement of finishFirstAttempt up to its
// WHERE clause.
const finishFirstAttemptSet = `UPDATE step_records SET first_status = ?1, first_finished_at = ?2,
		first_error_class = ?3, first_error_message = ?4, first_error_field = ?5, first_outcome = ?6,
		first_retry_after_ms = ?7, first_request_json = ?8, first_response_json = ?9,
		status = CASE WHEN status = 'succeeded' THEN status ELSE ?10 END,
		output_json = CASE WHEN status = 'succeeded' THEN output_json ELSE ?11 END,
		finished_at = CASE WHEN status = 'succeeded' THEN finished_at ELSE ?12 END,
		error_class = CASE WHEN status = 'succeeded' THEN error_class ELSE ?3 END,
		error_message = CASE WHEN status = 'succeeded' THEN error_message ELSE ?4 END,
		error_field = CASE WHEN status = 'succeeded' THEN error_field ELSE ?5 END`

// finishFirstAttemptWith is finishFirstAttempt that, when d is set (a
// message the attempt sent, of key's step), also binds d's message in the
// record's row in the same statement, where indexMessage would put it:
// when the row holds no message and the message is bound nowhere. It
// reports whether it did; when it did not, the caller indexes the message
// apart (indexMessageApart).
//
// The statement with the message applies only when the message can go to
// the row (its WHERE says so), so its count of changed rows tells; when it
// changes none, the result is applied alone, by finishFirstAttempt's own
// statement, which also tells an attempt that cannot finish. (RETURNING
// would say it in one statement, but SQLite runs RETURNING as a trigger,
// which makes it keep a statement journal of every page it changes, and
// the row costs a query's round in database/sql.)
func finishFirstAttemptWith(ctx context.Context, tx *wtx, key store.StepKey, result store.AttemptResult,
	recStatus store.Status, recFinished any, d *store.Delivery) (bound bool, err error) {
	class, message, field := errorColumns(result.Error)
	args := []any{string(result.Status), tx.time(result.FinishedAt), class, message, field,
		string(store.OutcomeOf(result)), result.RetryAfter.Milliseconds(),
		tx.json(result.Request), tx.json(result.Response),
		string(recStatus), tx.json(result.Output), recFinished,
		key.RunID, key.StepID, key.Item}
	const where = ` WHERE run_id = ?13 AND step_id = ?14 AND item = ?15 AND first_status = 'running'`
	if d != nil {
		res, err := tx.ExecContext(ctx, finishFirstAttemptSet+`,
			msg_provider = ?16, msg_id = ?17, msg_event = ?18`+where+` AND msg_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE provider = ?16 AND message_id = ?17)
			AND NOT EXISTS (SELECT 1 FROM step_records WHERE msg_provider = ?16 AND msg_id = ?17)`,
			append(args, d.Provider, d.MessageID, d.Event)...)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err == nil, err
		}
	}
	res, err := tx.ExecContext(ctx, finishFirstAttemptSet+where, args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return false, unfinishable(ctx, tx, key, 1)
	}
	return false, nil
}

// unfinishable explains why an attempt could not be finished: it was never
// started, or it has finished already.
func unfinishable(ctx context.Context, tx querier, key store.StepKey, attempt int) error {
	var status sql.NullString
	q := `SELECT status FROM step_attempts WHERE run_id = ? AND step_id = ? AND item = ? AND attempt = ?`
	args := []any{key.RunID, key.StepID, key.Item, attempt}
	if attempt == 1 {
		q, args = `SELECT first_status FROM step_records WHERE run_id = ? AND step_id = ? AND item = ?`, args[:3]
	}
	err := tx.QueryRowContext(ctx, q, args...).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && !status.Valid):
		return fmt.Errorf("attempt was never started: %w", store.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("attempt already finished as %s: %w", status.String, store.ErrConflict)
}

// RecordStep writes rec as the step record for its key.
func (s *Store) RecordStep(ctx context.Context, rec store.StepRecord) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	class, message, field := errorColumns(rec.Error)
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO step_records (run_id, step_id, item, status, attempts, provider,
			output_json, error_class, error_message, error_field, reason, total, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, step_id, item) DO UPDATE SET status = excluded.status,
				attempts = excluded.attempts, provider = excluded.provider, output_json = excluded.output_json,
				error_class = excluded.error_class, error_message = excluded.error_message,
				error_field = excluded.error_field, reason = excluded.reason, total = excluded.total,
				started_at = excluded.started_at, finished_at = excluded.finished_at
			WHERE status <> 'succeeded'`,
			rec.RunID, rec.StepID, rec.Item, string(rec.Status), rec.Attempts, rec.Provider,
			encodeJSON(rec.Output), class, message, field, rec.Reason, rec.Total,
			encodeTime(rec.StartedAt), encodeTime(rec.FinishedAt))
		if err != nil {
			return missingRun(ctx, tx, rec.RunID, err)
		}
		return ifUnchanged(res, errStepSucceeded)
	})
	if err != nil {
		return fmt.Errorf("record step %s: %w", keyName(rec.StepKey), err)
	}
	return nil
}

// missingRun turns err, from a write that a foreign key can refuse, into
// ErrNotFound when the run does not exist, and returns it unchanged otherwise.
func missingRun(ctx context.Context, tx querier, runID string, err error) error {
	if notFound := runExists(ctx, tx, runID); errors.Is(notFound, store.ErrNotFound) {
		return notFound
	}
	return err
}

// stepOrder is a CTE giving each step of run ?1 the sequence number of its
// first record, which orders steps by creation.
const stepOrder = `WITH step_order AS (
	SELECT step_id, MIN(seq) AS first_seq FROM step_records WHERE run_id = ?1 GROUP BY step_id
)`

// StepRecords returns the run's step records in step creation order, then
// item order.
func (s *Store) StepRecords(ctx context.Context, runID string) ([]store.StepRecord, error) {
	recs := []store.StepRecord{}
	err := s.read.inTx(ctx, func(tx *readTx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, stepOrder+`
			SELECT r.run_id, r.step_id, r.item, r.status, r.attempts, r.provider, r.output_json,
				r.error_class, r.error_message, r.error_field, r.reason, r.total, r.started_at, r.finished_at
			FROM step_records r JOIN step_order o ON o.step_id = r.step_id
			WHERE r.run_id = ?1 ORDER BY o.first_seq, r.item`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				rec               store.StepRecord
				status            string
				output            sql.NullString
				errs              errorScan
				started, finished sql.NullString
			)
			dests := append([]any{&rec.RunID, &rec.StepID, &rec.Item, &status, &rec.Attempts, &rec.Provider, &output},
				errs.dests()...)
			if err := rows.Scan(append(dests, &rec.Reason, &rec.Total, &started, &finished)...); err != nil {
				return err
			}
			rec.Status = store.Status(status)
			rec.Output = decodeJSON(output)
			rec.Error = errs.value()
			if rec.StartedAt, err = decodeTime(started); err != nil {
				return err
			}
			if rec.FinishedAt, err = decodeTime(finished); err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("step records: %w", classify(err))
	}
	return recs, nil
}

// attemptLog selects the attempts of run ?1 in step order, then item and
// attempt order (after stepOrder): the first attempts from their step
// records' rows, the later ones from step_attempts.
const attemptLog = `
	SELECT a.* FROM (
		SELECT run_id, step_id, item, 1 AS attempt, first_provider, first_action, first_status,
			COALESCE(first_outcome, ''), first_error_class, first_error_message, first_error_field,
			COALESCE(first_retry_after_ms, 0), first_request_json, first_response_json,
			first_started_at, first_finished_at
		FROM step_records WHERE run_id = ?1 AND first_status IS NOT NULL
		UNION ALL
		SELECT run_id, step_id, item, attempt, provider, action, status, outcome,
			error_class, error_message, error_field, retry_after_ms, request_json, response_json,
			started_at, finished_at
		FROM step_attempts WHERE run_id = ?1
	) a JOIN step_order o ON o.step_id = a.step_id
	ORDER BY o.first_seq, a.item, a.attempt`

// Attempts returns the run's attempt log in step order, then attempt order.
func (s *Store) Attempts(ctx context.Context, runID string) ([]store.Attempt, error) {
	attempts := []store.Attempt{}
	err := s.read.inTx(ctx, func(tx *readTx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, stepOrder+attemptLog, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a                 store.Attempt
				status            string
				errs              errorScan
				started, finished sql.NullString
				outcome           string
				retryAfterMS      int64
				req, resp         sql.NullString
			)
			dests := append([]any{&a.RunID, &a.StepID, &a.Item, &a.Number, &a.Provider, &a.Action, &status, &outcome},
				errs.dests()...)
			if err := rows.Scan(append(dests, &retryAfterMS, &req, &resp, &started, &finished)...); err != nil {
				return err
			}
			a.Status = store.Status(status)
			a.Outcome = store.Outcome(outcome)
			a.RetryAfter = time.Duration(retryAfterMS) * time.Millisecond
			a.Request, a.Response = decodeJSON(req), decodeJSON(resp)
			a.Error = errs.value()
			if a.StartedAt, err = decodeTime(started); err != nil {
				return err
			}
			if a.FinishedAt, err = decodeTime(finished); err != nil {
				return err
			}
			attempts = append(attempts, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("attempts: %w", classify(err))
	}
	return attempts, nil
}

// keyName returns "run/step" or "run/step[item]", for messages.
func keyName(k store.StepKey) string {
	if k.Item == store.NoItem {
		return k.RunID + "/" + k.StepID
	}
	return fmt.Sprintf("%s/%s[%d]", k.RunID, k.StepID, k.Item)
}

// ifUnchanged returns none when the statement behind res changed no row.
//
// none is one of the package's errors, not one built for the call: the
// argument is evaluated on every call, and almost every call succeeds.
func ifUnchanged(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
