package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// runColumns are the columns scanRun reads, in order, of the runs table
// aliased r.
const runColumns = `r.id, r.workflow, r.status, r.trigger_json, r.inputs_json, r.attempt, r.owner, r.error,
	r.reason, r.trigger_kind, r.heartbeat_at, r.cancel_requested, r.created_at, r.started_at, r.finished_at, r.version`

// scanRun reads one row of runColumns and returns the run and its version.
func scanRun(row pgx.Row) (store.Run, int64, error) {
	var (
		r                          store.Run
		status                     string
		trigger, inputs            []byte
		created, started, finished pgtype.Timestamptz
		heartbeat                  pgtype.Timestamptz
		version                    int64
	)
	if err := row.Scan(&r.ID, &r.Workflow, &status, &trigger, &inputs, &r.Attempt, &r.Owner, &r.Error,
		&r.Reason, &r.TriggerKind, &heartbeat, &r.CancelRequested, &created, &started, &finished, &version); err != nil {
		return store.Run{}, 0, err
	}
	r.Status = store.Status(status)
	r.Trigger = decodeJSON(trigger)
	r.Inputs = decodeJSON(inputs)
	r.CreatedAt = decodeTime(created)
	r.StartedAt = decodeTime(started)
	r.FinishedAt = decodeTime(finished)
	r.HeartbeatAt = decodeTime(heartbeat)
	return r, version, nil
}

// getRun reads one run and its version, or returns ErrNotFound, and keeps
// a copy in the run cache.
func (s *Store) getRun(ctx context.Context, id string) (store.Run, int64, error) {
	r, version, err := scanRun(s.queryRow(ctx, `SELECT `+runColumns+` FROM {schema}.runs r WHERE r.id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		s.runs.Drop(id)
		return store.Run{}, 0, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	case err == nil:
		s.runs.Put(r, version)
	}
	return r, version, err
}

// runExists reports an ErrNotFound error when no run has the given ID.
func (s *Store) runExists(ctx context.Context, id string) error {
	var found bool
	if err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM {schema}.runs WHERE id = $1)`, id).Scan(&found); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// normRun returns r with its times as the store keeps them.
func normRun(r store.Run) store.Run {
	r.CreatedAt = normTime(r.CreatedAt)
	r.StartedAt = normTime(r.StartedAt)
	r.FinishedAt = normTime(r.FinishedAt)
	r.HeartbeatAt = normTime(r.HeartbeatAt)
	return r
}

// insertRun inserts a run unless its ID is taken, in which case it changes
// no row.
const insertRun = `INSERT INTO {schema}.runs (id, workflow, status, trigger_json, inputs_json,
	attempt, owner, error, reason, trigger_kind, heartbeat_at, cancel_requested, created_at, started_at, finished_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT (id) DO NOTHING`

// insertRunArgs returns the arguments of insertRun for run.
func insertRunArgs(run store.Run) []any {
	return []any{run.ID, run.Workflow, string(run.Status), encodeJSON(run.Trigger), encodeJSON(run.Inputs),
		run.Attempt, run.Owner, run.Error, run.Reason, run.TriggerKind, encodeTime(run.HeartbeatAt), run.CancelRequested,
		encodeTime(run.CreatedAt), encodeTime(run.StartedAt), encodeTime(run.FinishedAt)}
}

// claimKey binds an idempotency key to a new run unless it is bound to a run
// and live at the new run's creation time ($4). It returns a row only when it
// bound the key, with the request fingerprint $5. A live key is left as it
// is, but locked, so the run it names can be read before anyone rebinds it; a
// racer that inserts the same key waits on the unique index until the first
// claim commits or rolls back.
const claimKey = `INSERT INTO {schema}.idempotency_keys AS k (key, run_id, expires_at, fingerprint) VALUES ($1, $2, $3, $5)
	ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at,
	fingerprint = excluded.fingerprint
	WHERE k.expires_at <= $4
	RETURNING true`

// CreateRun stores run, guarded by idemKey when it is set; see store.Store.
func (s *Store) CreateRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	if run.TriggerKind == "" {
		run.TriggerKind = store.TriggerKindOf(run.Trigger)
	}
	run, fingerprint, err := newRun(run, idemKey, ttl)
	if err != nil {
		return store.Run{}, false, err
	}
	if idemKey == "" {
		tag, err := s.exec(ctx, insertRun, insertRunArgs(run)...)
		if err != nil {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, errTaken)
		}
		return run, false, nil
	}

	var (
		existing store.Run
		existed  bool
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		existing, existed, err = s.createKeyedRun(ctx, tx, run, fingerprint, idemKey, ttl)
		return err
	})
	switch {
	case err != nil:
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, err)
	case existed:
		return existing, true, nil
	}
	return run, false, nil
}

// errTaken reports a run ID that is taken; returned from a transaction, it
// rolls the transaction back.
var errTaken = fmt.Errorf("run id is taken: %w", store.ErrConflict)

// GetRun returns the run with the given ID.
func (s *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	r, _, err := s.getRun(ctx, id)
	if err != nil {
		return store.Run{}, fmt.Errorf("get run: %w", err)
	}
	return r, nil
}

// ListRuns returns the runs that match filter, newest first.
func (s *Store) ListRuns(ctx context.Context, filter store.RunFilter) ([]store.Run, error) {
	var (
		join  string
		where []string
		args  []any
	)
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if filter.Before != "" {
		// A join rather than a subquery, so the row comparison can use an index.
		join = ` JOIN {schema}.runs c ON c.id = ` + param(filter.Before) + ` AND (r.created_at, r.id) < (c.created_at, c.id)`
	}
	if filter.Workflow != "" {
		where = append(where, `r.workflow = `+param(filter.Workflow))
	}
	stale := staleBefore(filter)
	switch filter.Status {
	case "":
	case store.StatusInterrupted:
		where = append(where, `r.status = 'running' AND (r.heartbeat_at IS NULL OR r.heartbeat_at < `+param(stale)+`)`)
	case store.StatusRunning:
		where = append(where, `r.status = 'running' AND r.heartbeat_at >= `+param(stale))
	default:
		where = append(where, `r.status = `+param(string(filter.Status)))
	}
	if filter.TriggerKind != "" {
		where = append(where, `r.trigger_kind = `+param(filter.TriggerKind))
	}
	if !filter.Since.IsZero() {
		where = append(where, `r.created_at >= `+param(encodeTime(filter.Since)))
	}
	if !filter.Until.IsZero() {
		where = append(where, `r.created_at < `+param(encodeTime(filter.Until)))
	}
	query := `SELECT ` + runColumns + ` FROM {schema}.runs r` + join
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY r.created_at DESC, r.id DESC`
	if filter.Limit > 0 {
		query += ` LIMIT ` + param(filter.Limit)
	}
	runs, err := s.queryRuns(ctx, query, args...)
	if err == nil && len(runs) == 0 && filter.Before != "" {
		// An unknown cursor matches nothing; say so rather than return an
		// empty page.
		if err = s.runExists(ctx, filter.Before); errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("cursor %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// UnfinishedRuns returns the queued and running runs, oldest first.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]store.Run, error) {
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM {schema}.runs r
		WHERE r.status IN ('queued', 'running') ORDER BY r.created_at, r.id`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", err)
	}
	return runs, nil
}

// queryRuns returns the runs a query of runColumns selects.
func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]store.Run, error) {
	rows, err := s.query(ctx, query, args...)
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
	return runs, classify(rows.Err())
}

// UpdateRun applies update to the stored run with optimistic concurrency:
// it takes the run as last read or written here (see store.RunCache), or reads
// it, calls update outside any lock or transaction, and writes only if no
// other writer changed the run meanwhile, starting over from a fresh read
// otherwise.
func (s *Store) UpdateRun(ctx context.Context, id string, update func(*store.Run) error) (store.Run, error) {
	return s.updateRun(ctx, id, update, nil)
}

// updateRunSQL applies a run update when the run is still at the version
// read.
const updateRunSQL = `UPDATE {schema}.runs SET status = $1, attempt = $2, owner = $3, error = $4,
	started_at = $5, finished_at = $6, reason = $9, cancel_requested = $10,
	heartbeat_at = GREATEST(heartbeat_at, $11), version = version + 1 WHERE id = $7 AND version = $8`

// updateRunChecked is updateRunSQL as a statement that fails (see
// failUnless) when it changes no row: the run moved on from the version
// read, or is gone.
const updateRunChecked = `WITH u AS (` + updateRunSQL + ` RETURNING 1)
	SELECT ` + failUnless + ` FROM u`

// failUnless is the select list of a checked statement (see
// updateRunChecked): over the rows its data-modifying part returned, it
// fails the statement with division_by_zero when there are none, which
// rolls back the implicit transaction the statement is part of. SQL has no
// RAISE outside a function; this needs no schema change.
const failUnless = `1 / count(*)`

// errRunMoved rolls back a transaction whose run another writer changed
// after it was read; updateRun reads it again and retries.
var errRunMoved = errors.New("run changed concurrently")

// queueAlso queues the statements a write makes with a run's update (see
// updateRun). checked asks for statements that fail, writing nothing, on
// any outcome but the expected one, as the write then goes in one implicit
// transaction whose results are read only after it committed; unchecked,
// they may say through their callbacks why they failed, which rolls back
// the explicit transaction they are in.
type queueAlso func(b *pgx.Batch, checked bool)

// updateRun is UpdateRun, with the statements also queues, when it is set,
// in the same transaction after the run's update: an error from them, or
// from their callbacks, undoes the update too. When another writer changed
// the run first, the whole write starts over from a fresh read.
//
// A run found in the cache costs no read. With also set, the update and its
// statements go checked (see queueAlso) in one round trip and one commit;
// any refusal, a stale cache entry or a statement's own, makes the write
// again the exact way: read the run, then BEGIN with the statements in one
// round trip, then COMMIT or, with the callbacks' reason, ROLLBACK.
func (s *Store) updateRun(ctx context.Context, id string, update func(*store.Run) error, also queueAlso) (store.Run, error) {
	prev, version, cached := s.runs.Get(id)
	fast := true
	for {
		if !cached {
			var err error
			if prev, version, err = s.getRun(ctx, id); err != nil {
				return store.Run{}, fmt.Errorf("update run: %w", err)
			}
		}
		next, err := applyUpdate(prev, update)
		if err != nil {
			if cached { // maybe a stale entry's fault: ask the database
				cached = false
				continue
			}
			return store.Run{}, fmt.Errorf("update run %s: %w", id, err)
		}
		also := s.withRunEnd(prev, next, also)
		args := []any{string(next.Status), next.Attempt, next.Owner, next.Error,
			encodeTime(next.StartedAt), encodeTime(next.FinishedAt), id, version,
			next.Reason, next.CancelRequested, encodeTime(next.HeartbeatAt)}
		switch {
		case also == nil:
			var tag pgconn.CommandTag
			if tag, err = s.exec(ctx, updateRunSQL, args...); err == nil && tag.RowsAffected() == 0 {
				err = errRunMoved
			}
		case fast:
			err = s.sendChecked(ctx, func(b *pgx.Batch) {
				b.Queue(s.sql(updateRunChecked), args...)
				also(b, true)
			})
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && !unavailable(err) {
				// The run moved on, or a statement refused: the exact
				// way says which.
				err, fast = errRunMoved, false
			}
		default:
			err = s.inBatchTx(ctx, func(b *pgx.Batch) {
				b.Queue(s.sql(updateRunSQL), args...).Exec(func(tag pgconn.CommandTag) error {
					if tag.RowsAffected() == 0 {
						return errRunMoved
					}
					return nil
				})
				also(b, false)
			})
		}
		if err == nil {
			s.runs.Put(next, version+1)
			return next, nil
		}
		if !errors.Is(err, errRunMoved) {
			s.runs.Drop(id)
			return store.Run{}, fmt.Errorf("update run %s: %w", id, err)
		}
		// Another writer got in first: start over from its result.
		cached = false
	}
}

// applyUpdate returns prev with update applied, checked. prev is left
// alone: update works on copies of its bytes.
func applyUpdate(prev store.Run, update func(*store.Run) error) (store.Run, error) {
	next := prev
	next.Trigger = append(json.RawMessage(nil), prev.Trigger...)
	next.Inputs = append(json.RawMessage(nil), prev.Inputs...)
	if err := update(&next); err != nil {
		return store.Run{}, err
	}
	next = normRun(next)
	if err := store.ValidateRunUpdate(prev, next); err != nil {
		return store.Run{}, err
	}
	return next, nil
}

// staleBefore returns the time before which a running run's heartbeat is
// stale for filter.
func staleBefore(filter store.RunFilter) any {
	now := filter.Now
	if now.IsZero() {
		now = time.Now()
	}
	return encodeTime(now.Add(-store.HeartbeatStale()))
}

// PurgeExpiredKeys deletes the idempotency keys expired at now.
func (s *Store) PurgeExpiredKeys(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("purge expired keys: %w: time is zero", store.ErrInvalid)
	}
	tag, err := s.exec(ctx, `DELETE FROM {schema}.idempotency_keys WHERE expires_at <= $1`, encodeTime(now))
	if err != nil {
		return 0, fmt.Errorf("purge expired keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
