package cluster

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Names of the River job kind and queue that carry runs.
const (
	// JobKind is the River kind of a run's job.
	JobKind = "herald_run"
	// Queue is the River queue runs are executed from.
	Queue = "herald_runs"
)

// MaxAttempts is how many times a run's job is tried when executing it fails
// for a reason other than the run's own outcome (the store unreachable, for
// example) before River discards it; the next start of a replica adopts the
// run again. Slices that end in a snooze are not attempts.
const MaxAttempts = 1000

// RunArgs are the arguments of a run's River job.
type RunArgs struct {
	// RunID names the run in the store; only it makes the job unique.
	RunID string `json:"run_id" river:"unique"`
	// Workflow is the run's workflow, for the job's lease and limits.
	Workflow string `json:"workflow"`
	// Wake names what queued the run again: the wait whose end did
	// (run/step/item), or an operator's retry or resolve (see Resubmit);
	// empty otherwise. It is part of the job's uniqueness: the job that
	// parked or ended the run may still be live in River (its completion
	// is recorded asynchronously) when the run is queued again, and must
	// not swallow the new job as a duplicate.
	Wake string `json:"wake,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return JobKind }

// InsertOpts implements river.JobArgsWithInsertOpts: a run has at most one
// live job, whichever replica inserts it.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       Queue,
		MaxAttempts: MaxAttempts,
		// A completed job does not block a new one, so Adopt can queue a
		// run again whose job ended without finishing it.
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates},
	}
}

// liveStates are the states of a job that has not ended; a job's
// uniqueness holds among them.
var liveStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// retryPolicy retries a run's failed job soon, because the failure is the
// infrastructure's (a database restart, say), not the run's: 1 s doubled per
// attempt up to a minute, with up to 20% jitter.
type retryPolicy struct{}

// maxRetryWait caps the wait between retries of a run's job.
const maxRetryWait = time.Minute

// NextRetry implements river.ClientRetryPolicy.
func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	wait := maxRetryWait
	if n := job.Attempt; n >= 1 && n <= 6 {
		wait = time.Second << (n - 1)
	}
	jitter := time.Duration(rand.Int64N(int64(wait) / 5))
	return time.Now().Add(wait + jitter)
}

// BatchJobKind is the River kind of the job held back for a batch of runs
// this replica executes where it admitted them (see heldBatch).
const BatchJobKind = "herald_run_batch"

// BatchArgs are the arguments of a held job (see heldBatch): the runs it
// guards, those it names or those that store its guard token. Should the
// job fall due (the replica that holds it stopped answering), its worker
// queues a run's job for each of them still unfinished with no live job of
// its own.
type BatchArgs struct {
	RunIDs []string `json:"run_ids,omitempty"`
	Guard  string   `json:"guard,omitempty"`
}

// Kind implements river.JobArgs.
func (BatchArgs) Kind() string { return BatchJobKind }

// InsertOpts implements river.JobArgsWithInsertOpts: in the runs' queue,
// tried as often as a run's job.
func (BatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}
