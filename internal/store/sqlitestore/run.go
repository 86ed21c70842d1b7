package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// runColumns are the columns scanRun reads, in order.
const runColumns = `id, workflow, status, trigger_json, inputs_json, attempt, owner, error,
	reason, trigger_kind, heartbeat_at, cancel_requested, created_at, started_at, finished_at, version`

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// scanRun reads one row of runColumns and returns the run and its version.
func scanRun(row scanner) (store.Run, int64, error) {
	var (
		r                          store.Run
		status                     string
		trigger, inputs            sql.NullString
		created, started, finished sql.NullString
		heartbeat                  sql.NullString
		version                    int64
	)
	if err := row.Scan(&r.ID, &r.Workflow, &status, &trigger, &inputs, &r.Attempt, &r.Owner, &r.Error,
		&r.Reason, &r.TriggerKind, &heartbeat, &r.CancelRequested, &created, &started, &finished, &version); err != nil {
		return store.Run{}, 0, err
	}
	r.Status = store.Status(status)
	r.Trigger = decodeJSON(trigger)
	r.Inputs = decodeJSON(inputs)
	var err error
	if r.CreatedAt, err = decodeTime(created); err != nil {
		return store.Run{}, 0, err
	}
	if r.StartedAt, err = decodeTime(started); err != nil {
		return store.Run{}, 0, err
	}
	if r.FinishedAt, err = decodeTime(finished); err != nil {
		return store.Run{}, 0, err
	}
	if r.HeartbeatAt, err = decodeTime(heartbeat); err != nil {
		return store.Run{}, 0, err
	}
	return r, version, nil
}

// getRun reads one run and its version, or returns ErrNotFound.
func getRun(ctx context.Context, q querier, id string) (store.Run, int64, error) {
	r, version, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, 0, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return r, version, err
}

// normRun returns r with its times as the store keeps them.
func normRun(r store.Run) store.Run {
	r.CreatedAt = normTime(r.CreatedAt)
	r.StartedAt = normTime(r.StartedAt)
	r.FinishedAt = normTime(r.FinishedAt)
	r.HeartbeatAt = normTime(r.HeartbeatAt)
	return r
}

// CreateRun stores run, guarded by idemKey when it is set; see store.Store.
func (s *Store) CreateRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	return s.createRunWith(ctx, run, idemKey, ttl, nil)
}

// createRunWith is CreateRun, with also, when set, run in the same
// transaction once the run is inserted: an error from also undoes the
// insert too. also is not run when the key names a live run.
func (s *Store) createRunWith(ctx context.Context, run store.Run, idemKey string, ttl time.Duration, also func(context.Context, *wtx) error) (store.Run, bool, error) {
	run, fingerprint, err := newRun(run, idemKey, ttl)
	if err != nil {
		return store.Run{}, false, err
	}
	var (
		existing store.Run
		existed  bool
		reused   bool
	)
	defer s.observeWait("create_run", time.Now())
	err = s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		existing, existed, reused, err = createRun(ctx, tx, run, fingerprint, idemKey, ttl)
		if err != nil || existed || reused || also == nil {
			return err
		}
		return also(ctx, tx)
	})
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, err)
	}
	if reused {
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, store.ErrIdempotencyKeyReused)
	}
	if existed {
		return existing, true, nil
	}
	s.runs.Put(run, 0)
	return run, false, nil
}

// newRun returns run normalised and checked for CreateRun, without its
// request fingerprint, which is returned apart: it is kept with the key.
func newRun(run store.Run, idemKey string, ttl time.Duration) (store.Run, string, error) {
	run = normRun(run)
	if run.TriggerKind == "" {
		run.TriggerKind = store.TriggerKindOf(run.Trigger)
	}
	return store.PrepareCreate(run, idemKey, ttl)
}

// createRun inserts run (from newRun) in tx and binds idemKey to it with
// fingerprint, or finds the live run idemKey is bound to (existed), or a
// bound key whose fingerprint differs (reused); then it stores nothing.
//
// The key is claimed first, in one statement that binds it unless it is
// bound and live, so a new key costs no read; the run, inserted next,
// names its key, which a trigger deletes with the run (migration 0008).
func createRun(ctx context.Context, tx *wtx, run store.Run, fingerprint, idemKey string, ttl time.Duration) (existing store.Run, existed, reused bool, err error) {
	var key any
	if idemKey != "" {
		key = idemKey
		created := tx.time(run.CreatedAt)
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, run_id, expires_at, fingerprint)
			VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at,
				fingerprint = excluded.fingerprint
			WHERE idempotency_keys.expires_at <= ?5`,
			idemKey, run.ID, tx.time(run.CreatedAt.Add(ttl)), fingerprint, created)
		if err != nil {
			return store.Run{}, false, false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return store.Run{}, false, false, err
		} else if n == 0 {
			return boundRun(ctx, tx, idemKey, fingerprint)
		}
	}

	res, err := tx.ExecContext(ctx, `INSERT INTO runs (id, workflow, status, trigger_json, inputs_json,
		attempt, owner, error, reason, trigger_kind, heartbeat_at, cancel_requested,
		created_at, started_at, finished_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		run.ID, run.Workflow, string(run.Status), tx.json(run.Trigger), tx.json(run.Inputs),
		run.Attempt, run.Owner, run.Error, run.Reason, run.TriggerKind, tx.time(run.HeartbeatAt), run.CancelRequested,
		tx.time(run.CreatedAt), tx.time(run.StartedAt), tx.time(run.FinishedAt), key)
	if err != nil {
		return store.Run{}, false, false, err
	}
	// A refusal fails the write, which undoes the key's claim with it.
	return store.Run{}, false, false, ifUnchanged(res, errRunIDTaken)
}

// boundRun returns the run the live key idemKey is bound to (existed), or
// reused when the key was bound with a fingerprint other than fingerprint.
func boundRun(ctx context.Context, tx *wtx, idemKey, fingerprint string) (existing store.Run, existed, reused bool, err error) {
	var runID, stored string
	if err := tx.QueryRowContext(ctx, `SELECT run_id, fingerprint FROM idempotency_keys WHERE key = ?`,
		idemKey).Scan(&runID, &stored); err != nil {
		return store.Run{}, false, false, err
	}
	if fingerprint != "" && stored != "" && fingerprint != stored {
		return store.Run{}, false, true, nil
	}
	existing, _, err = getRun(ctx, tx, runID)
	return existing, err == nil, false, err
}

// GetRun returns the run with the given ID.
func (s *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	r, _, err := getRun(ctx, s.read, id)
	if err != nil {
		return store.Run{}, fmt.Errorf("get run: %w", classify(err))
	}
	return r, nil
}

// ListRuns returns the runs that match filter, newest first.
func (s *Store) ListRuns(ctx context.Context, filter store.RunFilter) ([]store.Run, error) {
	var runs []store.Run
	err := s.read.inTx(ctx, func(tx *readTx) error {
		var cursor string
		if filter.Before != "" {
			err := tx.QueryRowContext(ctx, `SELECT created_at FROM runs WHERE id = ?`, filter.Before).Scan(&cursor)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("cursor run %s: %w", filter.Before, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		query, args := listRunsQuery(filter, cursor)
		var err error
		runs, err = queryRuns(ctx, tx, query, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", classify(err))
	}
	return runs, nil
}

// listRunsQuery returns the query of ListRuns for filter and its
// arguments; cursor is the created_at of the run filter.Before names.
//
// A filter by status reads the status index its status is in, and one by
// trigger kind runs_kind_created. Any other reads one arm per stored status,
// each from its status index in (created_at, id) order, and merges them:
// runs has no index of every run by creation (migration 0012), and SQLite
// merges the arms of a compound SELECT ordered by an index without sorting
// them, reading only as many rows of each as the page takes.
func listRunsQuery(filter store.RunFilter, cursor string) (string, []any) {
	var (
		where []string
		args  []any
	)
	if filter.Workflow != "" {
		where = append(where, `workflow = ?`)
		args = append(args, filter.Workflow)
	}
	if filter.TriggerKind != "" {
		where = append(where, `trigger_kind = ?`)
		args = append(args, filter.TriggerKind)
	}
	if !filter.Since.IsZero() {
		where = append(where, `created_at >= ?`)
		args = append(args, encodeTime(filter.Since))
	}
	if !filter.Until.IsZero() {
		where = append(where, `created_at < ?`)
		args = append(args, encodeTime(filter.Until))
	}
	if filter.Before != "" {
		// A row value, so the (created_at, id) indexes seek to the
		// cursor rather than scan up to it.
		where = append(where, `(created_at, id) < (?, ?)`)
		args = append(args, cursor, filter.Before)
	}
	stale := encodeTime(staleBefore(filter))
	var query string
	switch filter.Status {
	case "":
		if filter.TriggerKind != "" {
			query = selectRuns(where)
			break
		}
		// One arm per stored status, each with the filter's arguments.
		arms := make([]string, len(storedRunStatuses))
		all := make([]any, 0, len(storedRunStatuses)*len(args)+1)
		for i, st := range storedRunStatuses {
			arms[i] = selectRuns(append([]string{statusRunsCond(st), `status = '` + string(st) + `'`}, where...))
			all = append(all, args...)
		}
		query, args = strings.Join(arms, ` UNION ALL `), all
	case store.StatusInterrupted:
		query = selectRuns(append([]string{unfinishedRunsCond,
			`status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?)`}, where...))
		args = append([]any{stale}, args...)
	case store.StatusRunning:
		query = selectRuns(append([]string{unfinishedRunsCond, `status = 'running' AND heartbeat_at >= ?`}, where...))
		args = append([]any{stale}, args...)
	case store.StatusQueued:
		query = selectRuns(append([]string{unfinishedRunsCond, `status = 'queued'`}, where...))
	default:
		query = selectRuns(append([]string{settledRunsCond, `status = ?`}, where...))
		args = append([]any{string(filter.Status)}, args...)
	}
	query += ` ORDER BY created_at DESC, id DESC`
	if filter.Limit > 0 {
		// +? rather than ?: SQLite reads a LIMIT's bound value while it
		// plans, and then prepares the statement again whenever the value
		// is bound anew, which is on every call; +? hides the value (the
		// plans are the same: TestRunQueriesUseAnIndex).
		query += ` LIMIT +?`
		args = append(args, filter.Limit)
	}
	return query, args
}

// selectRuns returns a SELECT of runColumns from runs where every condition
// of where holds.
func selectRuns(where []string) string {
	query := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query
}

// The conditions of the partial indexes on runs' status (migration 0007):
// runs_unfinished holds the queued and running runs, runs_settled_created
// and runs_workflow_settled_created the others. SQLite uses a partial index
// only for a query whose WHERE names its condition as the index does, so a
// query by status carries the one its status satisfies.
const (
	unfinishedRunsCond = `status IN ('queued', 'running')`
	settledRunsCond    = `status NOT IN ('queued', 'running')`
)

// storedRunStatuses are the statuses a run's row can hold (the CHECK of
// runs.status), in the order of the arms of a list without a status filter.
var storedRunStatuses = []store.Status{store.StatusQueued, store.StatusRunning, store.StatusWaiting,
	store.StatusNeedsAttention, store.StatusSucceeded, store.StatusFailed, store.StatusSkipped, store.StatusCanceled}

// statusRunsCond returns the condition of the partial index that holds the
// runs in status st.
func statusRunsCond(st store.Status) string {
	if st == store.StatusQueued || st == store.StatusRunning {
		return unfinishedRunsCond
	}
	return settledRunsCond
}

// UnfinishedRuns returns the queued and running runs, oldest first.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]store.Run, error) {
	runs, err := queryRuns(ctx, s.read, `SELECT `+runColumns+` FROM runs
		WHERE `+unfinishedRunsCond+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", classify(err))
	}
	return runs, nil
}

// queryRuns returns the runs a query of runColumns selects.
func queryRuns(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, query string, args ...any) ([]store.Run, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	runs := []store.Run{}
	for rows.Next() {
		r, _, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// UpdateRun applies update to the stored run with optimistic concurrency:
// it reads the run (or takes it from the run cache), calls update outside
// any lock, and writes only if no other writer changed the run meanwhile,
// retrying from a fresh read otherwise.
func (s *Store) UpdateRun(ctx context.Context, id string, update func(*store.Run) error) (store.Run, error) {
	return s.updateRun(ctx, id, update, nil)
}

// updateRun is UpdateRun, with also, when set, run in the same transaction
// once the run's update has applied: an error from also undoes the update
// too. When another writer changed the run first, also is not run and the
// whole write starts over.
func (s *Store) updateRun(ctx context.Context, id string, update func(*store.Run) error, also func(context.Context, *wtx) error) (store.Run, error) {
	for {
		prev, version, cached := s.runs.Get(id)
		if !cached {
			var err error
			if prev, version, err = getRun(ctx, s.read, id); err != nil {
				return store.Run{}, fmt.Errorf("update run: %w", classify(err))
			}
		}
		next := prev
		// Copies, so update cannot change the stored bytes behind the check.
		next.Trigger = append(json.RawMessage(nil), prev.Trigger...)
		next.Inputs = append(json.RawMessage(nil), prev.Inputs...)
		if err := update(&next); err != nil {
			return store.Run{}, fmt.Errorf("update run %s: %w", id, err)
		}
		next = normRun(next)
		if err := store.ValidateRunUpdate(prev, next); err != nil {
			return store.Run{}, fmt.Errorf("update run: %w", err)
		}
		var n int64
		err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
			res, err := tx.ExecContext(ctx, updateRunQuery,
				string(next.Status), next.Attempt, next.Owner, next.Error, next.Reason, next.CancelRequested,
				tx.time(next.HeartbeatAt), tx.time(next.StartedAt), tx.time(next.FinishedAt), id, version)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 || also == nil {
				return err
			}
			return also(ctx, tx)
		})
		if err != nil {
			s.runs.Drop(id)
			return store.Run{}, fmt.Errorf("update run %s: %w", id, err)
		}
		if n == 1 {
			s.runs.Put(next, version+1)
			return next, nil
		}
		// Another writer got in first: start over from its result.
		s.runs.Drop(id)
	}
}

// updateRunQuery is UpdateRun's statement: it writes the run's mutable
// columns when the stored version is the one read, and counts the update.
const updateRunQuery = `UPDATE runs SET status = ?, attempt = ?, owner = ?, error = ?,
	reason = ?, cancel_requested = ?,
	heartbeat_at = NULLIF(MAX(COALESCE(heartbeat_at, ''), COALESCE(?, '')), ''),
	started_at = ?, finished_at = ?, version = version + 1 WHERE id = ? AND version = ?`

// staleBefore returns the time before which a running run's heartbeat is
// stale for filter.
func staleBefore(filter store.RunFilter) time.Time {
	now := filter.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.Add(-store.HeartbeatStale())
}

// purgeKeysStep is how many idempotency keys one background write of
// PurgeExpiredKeys reads: about a millisecond of the writer's time.
const purgeKeysStep = 2000

// PurgeExpiredKeys deletes the idempotency keys expired at now. The keys
// have no index of their expiries (migration 0008): it walks them in
// primary-key order, purgeKeysStep at a time, each step a background write
// (see writer.doBackground), so a webhook's write never waits behind a
// long scan. Keys also go with their runs when the retention deletes them.
func (s *Store) PurgeExpiredKeys(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("purge expired keys: %w: time is zero", store.ErrInvalid)
	}
	var (
		total int64
		after = "" // every key is longer: CreateRun stores no empty key
	)
	for {
		var (
			last    sql.NullString
			scanned int
			n       int64
		)
		_, err := s.w.doBackground(ctx, func(ctx context.Context, tx *wtx) error {
			if err := tx.QueryRowContext(ctx, `SELECT MAX(key), COUNT(*) FROM (
				SELECT key FROM idempotency_keys WHERE key > ? ORDER BY key LIMIT ?)`,
				after, purgeKeysStep).Scan(&last, &scanned); err != nil || !last.Valid {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys
				WHERE key > ? AND key <= ? AND expires_at <= ?`, after, last.String, encodeTime(now))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}, nil)
		if err = classify(err); err != nil {
			return total, fmt.Errorf("purge expired keys: %w", err)
		}
		total += n
		if !last.Valid || scanned < purgeKeysStep {
			break
		}
		after = last.String
	}
	return total, nil
}
