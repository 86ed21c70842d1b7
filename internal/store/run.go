package store

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsonvalid"
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
	// Reason is one line saying why the run was skipped (the when source
	// text), failed, canceled or needs attention; empty otherwise.
	Reason string
	// TriggerKind is the kind of trigger that started the run (cron,
	// webhook, event, manual), for filtering. CreateRun fills it from
	// Trigger's "kind" when it is empty.
	TriggerKind string
	// HeartbeatAt is when the owner last said it still executes the run (see
	// Store.Heartbeat); zero when no owner ever did. Only Heartbeat and the
	// UpdateRun that takes the run (sets Owner) move it.
	HeartbeatAt time.Time
	// CancelRequested, when set, names who asked to cancel the run; the
	// process that owns it polls for it with its heartbeat and stops the run.
	CancelRequested string
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

// Interrupted reports whether a running run has lost its owner: the owner's
// heartbeat is older than HeartbeatStale at now (or there never was one).
func (r Run) Interrupted(now time.Time) bool {
	return r.Status == StatusRunning && (r.HeartbeatAt.IsZero() || now.Sub(r.HeartbeatAt) > HeartbeatStale())
}

// ShownStatus is the status a run is shown in at now: its stored status, or
// interrupted for a running run that lost its owner.
func (r Run) ShownStatus(now time.Time) Status {
	if r.Interrupted(now) {
		return StatusInterrupted
	}
	return r.Status
}

// DefaultHeartbeatInterval is how often a process executing runs refreshes
// their heartbeat, in one statement for all of them (Store.Heartbeat),
// unless HERALD_HEARTBEAT_INTERVAL says otherwise.
const DefaultHeartbeatInterval = 5 * time.Second

var heartbeatInterval = sync.OnceValue(func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("HERALD_HEARTBEAT_INTERVAL")); err == nil && d > 0 {
		return d
	}
	return DefaultHeartbeatInterval
})

// HeartbeatInterval returns the heartbeat interval: HERALD_HEARTBEAT_INTERVAL
// (a Go duration) when it is set, else DefaultHeartbeatInterval. Every
// process sharing a store must use the same one.
func HeartbeatInterval() time.Duration { return heartbeatInterval() }

// HeartbeatStale returns how old a running run's heartbeat may grow before
// the run is shown interrupted: three intervals, so one slow beat is not
// mistaken for a dead process.
func HeartbeatStale() time.Duration { return 3 * HeartbeatInterval() }

// MaxResumes is how many times a run is started or resumed (Run.Attempt)
// before a resume gives up on it: a run that keeps crashing its host (a
// poison run) fails instead of taking the next host down with it. An
// operator's retry starts a new count.
const MaxResumes = 5

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
// creation (ID, Workflow, Trigger, TriggerKind, Inputs, CreatedAt).
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
	case next.TriggerKind != prev.TriggerKind:
		field = "trigger kind"
	}
	if field != "" {
		return fmt.Errorf("%w: run %s: %s cannot change", ErrInvalid, prev.ID, field)
	}
	// The JSON values are prev's, checked when the run was created: parsing
	// them again on every update would cost each run's writes their size.
	next.Trigger, next.Inputs = nil, nil
	return next.Validate()
}

// RunFilter selects runs for ListRuns. Zero fields do not filter.
type RunFilter struct {
	// Workflow keeps the runs of this workflow.
	Workflow string
	// Status keeps the runs in this status. StatusInterrupted keeps the
	// running runs whose heartbeat is stale at Now (see Run.Interrupted),
	// and StatusRunning then only those whose heartbeat is fresh.
	Status Status
	// TriggerKind keeps the runs started by this kind of trigger.
	TriggerKind string
	// Since and Until keep the runs created at or after Since and before
	// Until.
	Since, Until time.Time
	// Before keeps the runs listed after the run with this ID, for paging:
	// pass the ID of the last run of the previous page. The page is read
	// from the (created_at, id) index, so it costs the same on any page.
	Before string
	// Limit caps the number of runs returned; zero or less means no cap.
	Limit int
	// Now is the time a heartbeat's age is measured at for the running and
	// interrupted filters; zero means the store's clock.
	Now time.Time
}

// Operation is one change an operator made to a run: a retry, a cancel, a
// resolve or a signal, with who asked and when.
type Operation struct {
	// RunID is the run changed.
	RunID string `json:"-"`
	// At is when the change was made.
	At time.Time `json:"at"`
	// By names who asked: "cli", "api", "console:<remote address>".
	By string `json:"by"`
	// Action is what was asked: retry, cancel, resolve or signal.
	Action string `json:"action"`
	// Detail says more, such as "from step notify" or the signal's name.
	Detail string `json:"detail,omitempty"`
}

// Validate reports an ErrInvalid error when o cannot be stored.
func (o Operation) Validate() error {
	switch {
	case o.RunID == "":
		return fmt.Errorf("%w: operation: run id is empty", ErrInvalid)
	case o.Action == "":
		return fmt.Errorf("%w: operation on run %s: action is empty", ErrInvalid, o.RunID)
	case o.At.IsZero():
		return fmt.Errorf("%w: operation on run %s: time is zero", ErrInvalid, o.RunID)
	}
	return nil
}

// TriggerKindOf returns the "kind" of a trigger JSON object, or "".
func TriggerKindOf(trigger json.RawMessage) string {
	if len(trigger) == 0 {
		return ""
	}
	var t struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(trigger, &t) != nil {
		return ""
	}
	return t.Kind
}

// validJSON reports an ErrInvalid error when b is set and is not JSON.
func validJSON(what string, b json.RawMessage) error {
	if len(b) > 0 && !jsonvalid.Valid(b) {
		return fmt.Errorf("%w: %s is not valid json", ErrInvalid, what)
	}
	return nil
}

// PrepareCreate checks run, as a store will keep it, and its idempotency
// key for CreateRun, and returns the run without its request fingerprint
// and the fingerprint, which the store keeps with the key.
func PrepareCreate(run Run, idemKey string, ttl time.Duration) (Run, string, error) {
	if err := run.Validate(); err != nil {
		return Run{}, "", fmt.Errorf("create run: %w", err)
	}
	if err := ValidateIdempotencyKey(idemKey, ttl); err != nil {
		return Run{}, "", fmt.Errorf("create run %s: %w", run.ID, err)
	}
	fingerprint := run.RequestFingerprint
	run.RequestFingerprint = ""
	return run, fingerprint, nil
}
