package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Run is one execution of a workflow.
type Run struct {
	// ID is chosen by the caller, usually with NewRunID.
	ID string
	// Workflow is the name of the workflow the run executes.
	Workflow string
	// Status is the run's state; a new run is usually queued or running.
	Status Status
	// Trigger is what started the run (kind, time, scheduled_time, body,
	// headers, query, event) as a JSON object; nil when unknown.
	Trigger json.RawMessage
	// Inputs is an optional JSON snapshot of the inputs and vars the run
	// started with.
	Inputs json.RawMessage
	// Attempt counts how many times the run was started or resumed.
	Attempt int
	// Owner names the host process that holds the run; empty when none does.
	Owner string
	// Error describes why the run failed; empty otherwise.
	Error string
	// CreatedAt is when the run was created; it is required.
	CreatedAt time.Time
	// StartedAt is when the run started; zero until then.
	StartedAt time.Time
	// FinishedAt is when the run ended; zero until then.
	FinishedAt time.Time

	// RequestFingerprint, optional, identifies the request that asked for
	// the run, such as a hash of the workflow and the request body. CreateRun
	// keeps it with the run's idempotency key, and refuses a repeat of the
	// key with a different fingerprint (ErrIdempotencyKeyReused), so a
	// client that reuses a key for another request learns of it instead of
	// getting the first run back. It is stored with the key only: the runs
	// a Store returns have it empty.
	RequestFingerprint string
}

// MaxRequestFingerprintLen is the longest RequestFingerprint, in bytes:
// room for a SHA-512 in hex.
const MaxRequestFingerprintLen = 128

// Validate reports an ErrInvalid error when r cannot be stored.
func (r Run) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: run id is empty", ErrInvalid)
	case r.Workflow == "":
		return fmt.Errorf("%w: run %s: workflow is empty", ErrInvalid, r.ID)
	case r.CreatedAt.IsZero():
		return fmt.Errorf("%w: run %s: created time is zero", ErrInvalid, r.ID)
	case r.Attempt < 0:
		return fmt.Errorf("%w: run %s: attempt %d is negative", ErrInvalid, r.ID, r.Attempt)
	case len(r.RequestFingerprint) > MaxRequestFingerprintLen:
		return fmt.Errorf("%w: run %s: request fingerprint is longer than %d bytes", ErrInvalid, r.ID, MaxRequestFingerprintLen)
	case !utf8.ValidString(r.RequestFingerprint) || strings.IndexByte(r.RequestFingerprint, 0) >= 0:
		return fmt.Errorf("%w: run %s: request fingerprint is not UTF-8 text without NUL bytes", ErrInvalid, r.ID)
	}
	if err := r.Status.validRun(); err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	if err := validJSON("trigger", r.Trigger); err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	if err := validJSON("inputs", r.Inputs); err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	return nil
}

// ValidateRunUpdate reports an ErrInvalid error when next is not a valid
// update of prev: it must be valid and keep the fields that are fixed at
// creation (ID, Workflow, Trigger, Inputs, CreatedAt).
func ValidateRunUpdate(prev, next Run) error {
	var field string
	switch {
	case next.ID != prev.ID:
		field = "id"
	case next.Workflow != prev.Workflow:
		field = "workflow"
	case string(next.Trigger) != string(prev.Trigger):
		field = "trigger"
	case string(next.Inputs) != string(prev.Inputs):
		field = "inputs"
	case !next.CreatedAt.Equal(prev.CreatedAt):
		field = "created time"
	}
	if field != "" {
		return fmt.Errorf("%w: run %s: %s cannot change", ErrInvalid, prev.ID, field)
	}
	return next.Validate()
}

// RunFilter selects runs for ListRuns. Zero fields do not filter.
type RunFilter struct {
	// Workflow keeps the runs of this workflow.
	Workflow string
	// Status keeps the runs in this status.
	Status Status
	// Before keeps the runs listed after the run with this ID, for paging:
	// pass the ID of the last run of the previous page.
	Before string
	// Limit caps the number of runs returned; zero or less means no cap.
	Limit int
}

// validJSON reports an ErrInvalid error when b is set and is not JSON.
func validJSON(what string, b json.RawMessage) error {
	if len(b) > 0 && !json.Valid(b) {
		return fmt.Errorf("%w: %s is not valid json", ErrInvalid, what)
	}
	return nil
}
