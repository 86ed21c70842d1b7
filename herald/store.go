package herald

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Store is the durable record of runs, step attempts, operations and
// scheduler state. OpenStore opens the SQLite and PostgreSQL stores Herald
// ships; an application may also pass its own as Options.Store, typically a
// wrapper around one OpenStore returned (to meter, trace or mirror writes).
//
// Every method is safe for concurrent use, by many goroutines and by many
// Stores (processes) on the same database. Every write is durable when the
// method returns and atomic: stored whole or not at all. Errors wrap
// ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable or
// ErrIdempotencyKeyReused where the method says so; Herald tests for them
// with errors.Is. An implementation of its own must keep every promise made
// here; the conformance suite the shipped stores pass spells them out.
type Store interface {
	// CreateRun stores run. When idemKey is not empty the creation is
	// guarded by that key: if the key was stored for a run and has not
	// expired at run.CreatedAt, the existing run is returned with existed
	// set and nothing is created, unless run.RequestFingerprint and the one
	// stored with the key are both set and differ
	// (ErrIdempotencyKeyReused). Otherwise run is stored and the key bound
	// to it until run.CreatedAt+ttl. Racing callers with the same key see
	// exactly one creation. A taken run ID is ErrConflict.
	CreateRun(ctx context.Context, run RunRecord, idemKey string, ttl time.Duration) (stored RunRecord, existed bool, err error)
	// GetRun returns the run with the given ID, or ErrNotFound.
	GetRun(ctx context.Context, id string) (RunRecord, error)
	// ListRuns returns the runs that match filter, newest first (by
	// CreatedAt, then ID). A filter.Before naming no run is ErrNotFound.
	ListRuns(ctx context.Context, filter RunFilter) ([]RunRecord, error)
	// UnfinishedRuns returns every queued or running run, oldest first, for
	// the engine to resume after a restart.
	UnfinishedRuns(ctx context.Context) ([]RunRecord, error)
	// UpdateRun atomically applies update to the stored run and returns the
	// result. Only Status, Attempt, Owner, Error, Reason, CancelRequested,
	// StartedAt, FinishedAt and (when later) HeartbeatAt may change;
	// touching another field is ErrInvalid. update may be called more than
	// once when writers race, so it must have no side effects.
	UpdateRun(ctx context.Context, id string, update func(*RunRecord) error) (RunRecord, error)
	// PurgeExpiredKeys deletes the idempotency keys that expired at or
	// before now and reports how many it deleted.
	PurgeExpiredKeys(ctx context.Context, now time.Time) (int64, error)
	// Heartbeat sets HeartbeatAt of owner's running runs to at and returns
	// the IDs of those whose cancel was requested.
	Heartbeat(ctx context.Context, owner string, at time.Time) (cancel []string, err error)
	// PruneRuns deletes up to limit final runs created and finished before
	// cutoff, oldest first, with everything recorded for them, and reports
	// how many it deleted.
	PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	// AddOperation appends op to its run's operation log; an unknown run is
	// ErrNotFound.
	AddOperation(ctx context.Context, op Operation) error
	// Operations returns the run's operation log, oldest first; an unknown
	// run is ErrNotFound.
	Operations(ctx context.Context, runID string) ([]Operation, error)
	// StartAttempt durably logs the start of an attempt, before the plugin
	// is called. Starting an attempt number twice, or any attempt of a step
	// that has succeeded, is ErrConflict; an unknown run is ErrNotFound.
	StartAttempt(ctx context.Context, key StepKey, start AttemptStart) error
	// FinishAttempt logs the result of a started attempt and applies it to
	// the step record. A step that has succeeded is never changed. An
	// attempt never started is ErrNotFound; one already finished is
	// ErrConflict.
	FinishAttempt(ctx context.Context, key StepKey, attempt int, result AttemptResult) error
	// RecordStep writes a step record without logging an attempt (skipped
	// steps, a for_each step's aggregate). Replacing a record that has
	// succeeded is ErrConflict.
	RecordStep(ctx context.Context, rec StepRecord) error
	// ReopenStep makes a step run again (an operator's retry or resolve),
	// keeping its attempt count; a record that does not exist is
	// ErrNotFound.
	ReopenStep(ctx context.Context, key StepKey) error
	// StepRecords returns the run's step records in the order the steps
	// were first recorded; an unknown run is ErrNotFound.
	StepRecords(ctx context.Context, runID string) ([]StepRecord, error)
	// Attempts returns the run's attempt log, oldest first; an unknown run
	// is ErrNotFound.
	Attempts(ctx context.Context, runID string) ([]AttemptRecord, error)
	// CronState returns the scheduler state of a cron trigger, or
	// ErrNotFound.
	CronState(ctx context.Context, workflow, trigger string) (CronState, error)
	// SetCronState stores the scheduler state of a cron trigger.
	SetCronState(ctx context.Context, state CronState) error
	// IndexMessage binds a sent message (its provider instance and id) to
	// the step (and item) whose output named it, for its delivery receipts.
	// Binding it again to the same step keeps its status; binding it to
	// another step moves it there with no status. An unknown run is
	// ErrNotFound.
	IndexMessage(ctx context.Context, d Delivery) error
	// RecordReceipt applies a delivery receipt that an event of eventType
	// reported for a message of provider, and returns the delivery as
	// stored afterwards and whether the receipt changed it: a status is
	// only ever replaced by one of a higher rank (sent < failed < delivered
	// < read). A message never indexed, or indexed for another event type,
	// is ErrNotFound.
	RecordReceipt(ctx context.Context, provider, messageID, eventType string, r Receipt) (Delivery, bool, error)
	// RunDeliveries returns the deliveries of a run's steps, ordered by
	// step id, item and message id; none for an unknown run.
	RunDeliveries(ctx context.Context, runID string) ([]Delivery, error)
	// Ping reports whether the store can serve calls now.
	Ping(ctx context.Context) error
	// Close releases the store; calls after the first return nil.
	Close() error
}

// The records a Store keeps. Their fields are documented where they are
// declared; a wrapping Store passes them through unchanged.
type (
	// RunRecord is a run as the store holds it.
	RunRecord = store.Run
	// RunFilter selects the runs ListRuns returns.
	RunFilter = store.RunFilter
	// Operation is one entry of a run's operation log (an operator's
	// retry, cancel, resolve or signal).
	Operation = store.Operation
	// StepKey names one step, or one element of a for_each step, of a run.
	StepKey = store.StepKey
	// AttemptStart is what StartAttempt logs.
	AttemptStart = store.AttemptStart
	// AttemptResult is what FinishAttempt logs.
	AttemptResult = store.AttemptResult
	// StepRecord is the state of one step of a run.
	StepRecord = store.StepRecord
	// AttemptRecord is one logged attempt of a step.
	AttemptRecord = store.Attempt
	// CronState is the scheduler state of one cron trigger.
	CronState = store.CronState
	// Delivery is a sent message indexed for its delivery receipts, with
	// the best receipt recorded for it.
	Delivery = store.Delivery
	// Receipt is one delivery status report.
	Receipt = store.Receipt
)

// A Store and the internal store have the same methods; the compiler keeps
// them in step.
var (
	_ Store       = store.Store(nil)
	_ store.Store = Store(nil)
)
