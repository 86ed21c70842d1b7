package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// CreateRunTx is CreateRun inside a transaction the caller owns, so other
// writes commit or roll back with the run: the scale-out host enqueues the
// run's River job in the same transaction. It follows CreateRun's rules; on
// an error the caller must roll tx back, as the run and its key may be half
// written. tx must be on a connection to the store's database.
func (s *Store) CreateRunTx(ctx context.Context, tx pgx.Tx, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	if s.closed.Load() {
		return store.Run{}, false, errClosed
	}
	run, fingerprint, err := newRun(run, idemKey, ttl)
	if err != nil {
		return store.Run{}, false, err
	}
	if idemKey == "" {
		tag, err := tx.Exec(ctx, s.sql(insertRun), insertRunArgs(run)...)
		if err != nil {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, classify(err))
		}
		if tag.RowsAffected() == 0 {
			return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, errTaken)
		}
		return run, false, nil
	}
	existing, existed, err := s.createKeyedRun(ctx, tx, run, fingerprint, idemKey, ttl)
	switch {
	case err != nil:
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, classify(err))
	case existed:
		return existing, true, nil
	}
	return run, false, nil
}

// newRun returns run as the store keeps it, checked with its idempotency
// key, and the request fingerprint, which is kept with the key.
func newRun(run store.Run, idemKey string, ttl time.Duration) (store.Run, string, error) {
	run = normRun(run)
	return store.PrepareCreate(run, idemKey, ttl)
}

// insertRuns inserts runs given column by column, as arrays, skipping
// those whose ID is taken. $16 are their guards (see
// QueueCreateRunsGuarded), NULL for none.
const insertRuns = `INSERT INTO {schema}.runs (id, workflow, status, trigger_json, inputs_json,
	attempt, owner, error, reason, trigger_kind, heartbeat_at, cancel_requested, created_at, started_at, finished_at,
	guard)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bigint[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[], $14::timestamptz[],
		$15::timestamptz[], $16::text[])
	ON CONFLICT (id) DO NOTHING`

// runArrays are runs column by column: the parameters of insertRuns.
type runArrays struct {
	ids, workflows, statuses, owners, errors, reasons, kinds, cancels []string
	triggers, inputs                                                  []json.RawMessage
	attempts                                                          []int64
	heartbeats, created, started, finished                            []pgtype.Timestamptz
	guards                                                            []pgtype.Text
}

// add appends run, as newRun returns it, to the columns.
func (c *runArrays) add(run store.Run) {
	c.ids = append(c.ids, run.ID)
	c.workflows = append(c.workflows, run.Workflow)
	c.statuses = append(c.statuses, string(run.Status))
	c.triggers = append(c.triggers, nullJSON(run.Trigger))
	c.inputs = append(c.inputs, nullJSON(run.Inputs))
	c.attempts = append(c.attempts, int64(run.Attempt))
	c.owners = append(c.owners, run.Owner)
	c.errors = append(c.errors, run.Error)
	c.reasons = append(c.reasons, run.Reason)
	c.kinds = append(c.kinds, run.TriggerKind)
	c.heartbeats = append(c.heartbeats, timestamptz(run.HeartbeatAt))
	c.cancels = append(c.cancels, run.CancelRequested)
	c.created = append(c.created, timestamptz(run.CreatedAt))
	c.started = append(c.started, timestamptz(run.StartedAt))
	c.finished = append(c.finished, timestamptz(run.FinishedAt))
}

// guard appends run's guard: none when empty.
func (c *runArrays) guard(token string) {
	c.guards = append(c.guards, pgtype.Text{String: token, Valid: token != ""})
}

// args returns the columns in insertRuns' order.
func (c *runArrays) args() []any {
	return []any{c.ids, c.workflows, c.statuses, c.triggers, c.inputs, c.attempts, c.owners, c.errors,
		c.reasons, c.kinds, c.heartbeats, c.cancels, c.created, c.started, c.finished, c.guards}
}

// QueueCreateRuns queues on b the statement that stores runs, which have
// no idempotency key, however many they are: it checks them as CreateRun
// does and returns them as they will be stored, in order. b must be a
// transaction's (the scale-out host's create batch begins one with it, so
// BEGIN and the runs go in one round trip). When one of their IDs is
// taken (by a stored run or another of runs) the statement's callback
// fails with an ErrConflict error, and the caller must roll the
// transaction back. An error from QueueCreateRuns queues nothing.
func (s *Store) QueueCreateRuns(b *pgx.Batch, runs []store.Run) ([]store.Run, error) {
	return s.QueueCreateRunsGuarded(b, runs, nil)
}

// QueueCreateRunsGuarded is QueueCreateRuns storing with each run its
// guard, guards[i] for runs[i] (none when empty, or when guards is nil):
// the token of the held job that a scale-out replica holds back for the
// runs it executes where it admitted them, whose worker finds them by it
// should the replica stop answering.
func (s *Store) QueueCreateRunsGuarded(b *pgx.Batch, runs []store.Run, guards []string) ([]store.Run, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	stored, cols, err := newRuns(runs, guards)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("create %d runs", len(runs))
	if len(runs) == 1 {
		what = "create run " + runs[0].ID
	}
	b.Queue(s.sql(insertRuns), cols.args()...).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != int64(len(runs)) {
			return fmt.Errorf("%s: %w", what, errTaken)
		}
		return nil
	})
	return stored, nil
}

// newRuns checks runs, which have no idempotency key, as CreateRun does,
// and returns them as they will be stored, in order, and as the columns of
// insertRuns with guards (see QueueCreateRunsGuarded).
func newRuns(runs []store.Run, guards []string) ([]store.Run, runArrays, error) {
	if guards != nil && len(guards) != len(runs) {
		return nil, runArrays{}, fmt.Errorf("create runs: %d guards for %d runs: %w", len(guards), len(runs), store.ErrInvalid)
	}
	stored := make([]store.Run, len(runs))
	var cols runArrays
	for i, run := range runs {
		run, _, err := newRun(run, "", 0)
		if err != nil {
			return nil, runArrays{}, err
		}
		stored[i] = run
		cols.add(run)
		if guards != nil {
			cols.guard(guards[i])
		} else {
			cols.guard("")
		}
	}
	return stored, cols, nil
}

// insertRunsChecked is insertRuns as a statement that fails, writing
// nothing, unless it inserts all $17 runs (see failUnless): one whose ID
// is taken makes it fail.
const insertRunsChecked = `WITH ins AS (` + insertRuns + ` RETURNING 1)
	SELECT 1 / (count(*) = $17::bigint)::int FROM ins`

// QueueCreateRunsChecked is QueueCreateRuns for a batch that carries its
// own transaction, with no BEGIN and no COMMIT (one implicit transaction):
// it queues a statement that fails, so that nothing of the batch commits,
// unless it stores every one of runs, with guards as
// QueueCreateRunsGuarded stores them, and sets no callback. The caller
// that sees the batch fail with a statement's error makes the write again
// the exact way, in an explicit transaction, to learn why.
func (s *Store) QueueCreateRunsChecked(b *pgx.Batch, runs []store.Run, guards []string) ([]store.Run, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	stored, cols, err := newRuns(runs, guards)
	if err != nil {
		return nil, err
	}
	b.Queue(s.sql(insertRunsChecked), append(cols.args(), int64(len(runs)))...)
	return stored, nil
}

// createKeyedRun claims idemKey for run, with the request fingerprint, and
// inserts run in tx, or returns the run the key is bound to with existed set,
// or ErrIdempotencyKeyReused when the key's fingerprint differs. run must be
// normalised and valid. The key is claimed before the run is inserted (its
// foreign key is deferred), so a racer that loses never inserts a run. An
// error leaves tx to be rolled back.
func (s *Store) createKeyedRun(ctx context.Context, tx pgx.Tx, run store.Run, fingerprint, idemKey string, ttl time.Duration) (existing store.Run, existed bool, err error) {
	var claimed bool
	err = tx.QueryRow(ctx, s.sql(claimKey), idemKey, run.ID, normTime(run.CreatedAt.Add(ttl)), run.CreatedAt, fingerprint).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		var stored string
		existing, _, err = scanRun(extraColumn{tx.QueryRow(ctx, s.sql(`SELECT `+runColumns+`, k.fingerprint FROM {schema}.runs r
			JOIN {schema}.idempotency_keys k ON k.run_id = r.id WHERE k.key = $1`), idemKey), &stored})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return store.Run{}, false, fmt.Errorf("idempotency key names no run: %w", store.ErrNotFound)
		case err != nil:
			return store.Run{}, false, err
		case fingerprint != "" && stored != "" && fingerprint != stored:
			return store.Run{}, false, store.ErrIdempotencyKeyReused
		}
		return existing, true, nil
	}
	if err != nil {
		return store.Run{}, false, err
	}
	tag, err := tx.Exec(ctx, s.sql(insertRun), insertRunArgs(run)...)
	if err != nil {
		return store.Run{}, false, err
	}
	if tag.RowsAffected() == 0 {
		return store.Run{}, false, errTaken
	}
	return store.Run{}, false, nil
}

// extraColumn is a row of runColumns followed by one more column, scanned
// into dest.
type extraColumn struct {
	row  pgx.Row
	dest any
}

// Scan scans the run's columns into dest and the extra column into c.dest.
func (c extraColumn) Scan(dest ...any) error {
	return c.row.Scan(append(dest, c.dest)...)
}
