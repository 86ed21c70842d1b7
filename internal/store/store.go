// Package store defines Herald's durable record of work: runs, the idempotency
// keys that create them, step records with their attempt log, and cron
// scheduler state. It owns the Store interface and the plain data types that
// cross it, plus the rules every implementation enforces (see the Validate
// methods), so the SQLite and PostgreSQL stores behave alike.
//
// The package holds no SQL and imports nothing from the engine: implementations
// live in sub-packages (sqlitestore) and are checked by the shared conformance
// suite in storetest. A Store records what the engine decides; it never
// schedules, retries or calls plugins, and plugins never reach it.
//
// Times passed in are stored in UTC with microsecond precision and come back in
// UTC. JSON values are opaque to the store: they come back equivalent, though
// not necessarily byte for byte (PostgreSQL normalises jsonb).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors returned by every Store implementation, wrapped with context; test
// for them with errors.Is.
var (
	// ErrNotFound reports that a run, step attempt or cron state does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports a write that contradicts what is stored: a run ID
	// that is taken, an attempt that was already started or finished, or a
	// change to a step record that has already succeeded.
	ErrConflict = errors.New("conflict")
	// ErrInvalid reports an argument that breaks the rules of its type, such as
	// an empty run ID, an unknown status or malformed JSON.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnavailable reports a database that cannot serve the call now but
	// may later: locked by another process beyond the busy timeout,
	// unreachable, read-only, out of space, or damaged (corrupt). Nothing was
	// stored; the caller may retry later. The HTTP API answers it with 503
	// and Retry-After.
	ErrUnavailable = errors.New("store unavailable")
	// ErrIdempotencyKeyReused reports a CreateRun whose idempotency key is
	// live and bound to a run that a different request created: the two
	// runs' RequestFingerprints differ. Nothing is stored.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
)

// Store is the durable record the engine writes before it moves on. Every
// method is safe for concurrent use by many goroutines, and by many Stores
// (processes) on the same database. Every write is durable when the method
// returns, and atomic: it is stored whole or not at all. A write that returns
// an error, also one whose context was cancelled mid-call, has stored
// nothing, unless the error came after the database committed it (a
// connection lost during the commit).
type Store interface {
	// CreateRun stores run. When idemKey is not empty the creation is
	// guarded by that key, a scoped string such as "api:<workflow>:<key>",
	// "delivery:<instance>:<id>" or "cron:<workflow>:<trigger>:<time>": if the
	// key was stored for a run and has not expired at run.CreatedAt, the
	// existing run is returned with existed set and nothing is created,
	// unless run.RequestFingerprint and the one stored with the key are both
	// set and differ, which is ErrIdempotencyKeyReused. Otherwise run is
	// stored and the key (re)bound to it, with run.RequestFingerprint, until
	// run.CreatedAt+ttl; ttl must be positive when idemKey is set. Racing
	// callers with the same key see exactly one creation. A key longer than
	// MaxIdempotencyKeyLen is ErrInvalid (see ValidateIdempotencyKey); a
	// taken run ID is ErrConflict.
	CreateRun(ctx context.Context, run Run, idemKey string, ttl time.Duration) (stored Run, existed bool, err error)
	// GetRun returns the run with the given ID, or ErrNotFound.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns the runs that match filter, newest first (by CreatedAt,
	// then ID). A filter.Before naming no run is ErrNotFound.
	ListRuns(ctx context.Context, filter RunFilter) ([]Run, error)
	// UnfinishedRuns returns every queued or running run, oldest first, for
	// the engine to resume after a restart.
	UnfinishedRuns(ctx context.Context) ([]Run, error)
	// UpdateRun atomically applies update to the stored run and returns the
	// result. Only Status, Attempt, Owner, Error, Reason, CancelRequested,
	// StartedAt and FinishedAt may change; touching another field is
	// ErrInvalid, except HeartbeatAt, which is stored only when it is later
	// than the stored one (an owner taking the run beats for it at once). An error from update
	// aborts the change and is returned wrapped. update may be called more
	// than once when writers race, so it must not have side effects; it must
	// not call the Store.
	UpdateRun(ctx context.Context, id string, update func(*Run) error) (Run, error)
	// PurgeExpiredKeys deletes the idempotency keys that expired at or before
	// now and reports how many it deleted. Runs are kept.
	PurgeExpiredKeys(ctx context.Context, now time.Time) (int64, error)
	// Heartbeat tells the store that owner still executes its running runs:
	// one statement sets their HeartbeatAt to at, however many there are.
	// It returns the IDs of the owner's running runs whose cancel was
	// requested (CancelRequested set), for the owner to stop.
	Heartbeat(ctx context.Context, owner string, at time.Time) (cancel []string, err error)
	// PruneRuns deletes up to limit final runs (succeeded, failed, skipped,
	// canceled) created and finished before cutoff, oldest first, with
	// their step records, attempts, operations and idempotency keys, in one
	// short transaction, and reports how many runs it deleted. Callers loop
	// until it deletes fewer than limit.
	PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	// AddOperation appends op to its run's operation log. An unknown run is
	// ErrNotFound.
	AddOperation(ctx context.Context, op Operation) error
	// Operations returns the run's operation log, oldest first. An unknown
	// run is ErrNotFound.
	Operations(ctx context.Context, runID string) ([]Operation, error)

	// StartAttempt logs the start of an attempt and marks the step record
	// running with this attempt's provider, creating the record on first use.
	// It returns once the start is durable, before the plugin is called.
	// Starting an attempt number twice, or any attempt of a step that has
	// succeeded, is ErrConflict; an unknown run is ErrNotFound.
	StartAttempt(ctx context.Context, key StepKey, start AttemptStart) error
	// FinishAttempt logs the result of a started attempt and applies it to the
	// step record: a final result (see AttemptResult.WillRetry) makes the
	// record final. A step record that has succeeded is never changed: when a
	// late attempt finishes after another attempt of the step succeeded (a
	// host hung mid-call while another host resumed the run), its result is
	// logged in the attempt log only and the call returns nil, so a resume
	// still finds the step done and never sends it again. An attempt never
	// started is ErrNotFound; one already finished is ErrConflict.
	FinishAttempt(ctx context.Context, key StepKey, attempt int, result AttemptResult) error
	// RecordStep writes rec as the step record for its key without logging an
	// attempt, for steps that make no call (skipped ones) and for a for_each
	// step's aggregate record (Item NoItem). Replacing a record that has
	// succeeded is ErrConflict; an unknown run is ErrNotFound.
	RecordStep(ctx context.Context, rec StepRecord) error
	// ReopenStep makes the step record of key run again, for an operator's
	// retry or resolve: it becomes running with its output, error and
	// reason cleared and its attempt count kept, so new attempts continue
	// the numbering and the attempt log keeps every earlier attempt. A
	// record that does not exist is ErrNotFound.
	ReopenStep(ctx context.Context, key StepKey) error
	// StepRecords returns the run's step records ordered by when each step
	// ID was first recorded, then by item index (the aggregate NoItem first).
	// An unknown run is ErrNotFound.
	StepRecords(ctx context.Context, runID string) ([]StepRecord, error)
	// Attempts returns the run's attempt log, the run's history, in the
	// order of StepRecords, then by attempt number, each with its action,
	// outcome, retry-after and masked request/response. An unknown run is
	// ErrNotFound.
	Attempts(ctx context.Context, runID string) ([]Attempt, error)

	// Deliveries indexes sent messages for their delivery receipts.
	Deliveries

	// CronState returns the scheduler state of one cron trigger, or
	// ErrNotFound when none was stored.
	CronState(ctx context.Context, workflow, trigger string) (CronState, error)
	// SetCronState stores state, replacing what was stored for its workflow
	// and trigger.
	SetCronState(ctx context.Context, state CronState) error

	// Ping reports whether the store accepts writes now, for readiness
	// checks, without changing any data: it takes and releases the
	// database's write lock, or checks that the database is not read-only,
	// waiting a short time at most. A store that is locked, read-only,
	// damaged or unreachable is an error wrapping ErrUnavailable.
	Ping(ctx context.Context) error
	// Close releases the store. Calls after the first return nil; other
	// methods fail after Close.
	Close() error
}

// Maintainer is implemented by stores that can report their size and give
// space back after PruneRuns; the retention loop uses it when present.
type Maintainer interface {
	// Size reports the bytes the store occupies (for SQLite the database
	// file and its WAL; for PostgreSQL the store's tables and indexes).
	Size(ctx context.Context) (int64, error)
	// Compact gives freed space back in small steps that never hold the
	// store for long (SQLite: incremental vacuum and a WAL checkpoint);
	// stores that need nothing do nothing.
	Compact(ctx context.Context) error
}

// RunCommitter is implemented by stores that can write a run's update in
// the same transaction as an attempt's start or result, so a run pays for
// fewer commits: a one-step run costs three (CreateRun, StartAttemptRun,
// FinishAttemptRun) instead of five or six. The engine uses it when the
// store has it and makes the writes one by one otherwise.
//
// update follows UpdateRun's rules: it may be called more than once, must
// have no side effects and must not call the Store, and an error from it
// aborts the whole write and is returned wrapped.
type RunCommitter interface {
	// StartAttemptRun is UpdateRun of key.RunID with update and
	// StartAttempt of key in one transaction: both are stored, or neither
	// (an attempt that cannot start leaves the run as it was). It returns
	// the updated run.
	StartAttemptRun(ctx context.Context, key StepKey, start AttemptStart, update func(*Run) error) (Run, error)
	// FinishAttemptRun is FinishAttempt of key, IndexMessage of each of
	// deliveries, and UpdateRun of key.RunID with update, in one
	// transaction: all are stored, or none. It returns the updated run.
	FinishAttemptRun(ctx context.Context, key StepKey, attempt int, result AttemptResult, deliveries []Delivery, update func(*Run) error) (Run, error)
}

// EagerStarter is implemented by stores that can create a run and start its
// first attempt in one transaction, so a run executed as soon as it is
// admitted pays one commit fewer: a one-step run costs two
// (CreateStartAttemptRun, FinishAttemptRun). The engine uses it when the
// store has it and creates the run first otherwise.
type EagerStarter interface {
	// CreateStartAttemptRun is CreateRun of run with idemKey and ttl and
	// StartAttempt of key, whose RunID must be run.ID, in one transaction:
	// both are stored, or neither. run is stored as given, usually already
	// running under its owner. When idemKey is bound to a live run, that
	// run is returned with existed set and nothing is stored, no attempt
	// either; ErrIdempotencyKeyReused, ErrConflict and ErrInvalid are
	// CreateRun's, and a start StartAttempt refuses stores no run.
	CreateStartAttemptRun(ctx context.Context, run Run, idemKey string, ttl time.Duration, key StepKey, start AttemptStart) (stored Run, existed bool, err error)
}

// ValidateEagerStart checks the attempt arguments of
// EagerStarter.CreateStartAttemptRun (the run is checked as CreateRun
// checks it): a valid key of run and a valid start.
func ValidateEagerStart(run Run, key StepKey, start AttemptStart) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	if key.RunID != run.ID {
		return fmt.Errorf("start attempt: %w: step key names run %s, not the new run %s", ErrInvalid, key.RunID, run.ID)
	}
	if err := start.Validate(); err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	return nil
}
