package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// NoItem is the item index of a step that does not iterate, and of the
// aggregate record of a for_each step.
const NoItem = -1

// StepKey names one step record: a step of a run, and for a for_each step
// the item index (NoItem otherwise).
type StepKey struct {
	// RunID is the run the step belongs to.
	RunID string
	// StepID is the step's id in the workflow.
	StepID string
	// Item is the for_each item index, or NoItem.
	Item int
}

// Validate reports an ErrInvalid error when k names no possible record.
func (k StepKey) Validate() error {
	switch {
	case k.RunID == "":
		return fmt.Errorf("%w: step key: run id is empty", ErrInvalid)
	case k.StepID == "":
		return fmt.Errorf("%w: step key: step id is empty", ErrInvalid)
	case k.Item < NoItem:
		return fmt.Errorf("%w: step key: item %d is below %d", ErrInvalid, k.Item, NoItem)
	}
	return nil
}

// name returns "run/step" or "run/step[item]", for messages.
func (k StepKey) name() string {
	if k.Item == NoItem {
		return k.RunID + "/" + k.StepID
	}
	return fmt.Sprintf("%s/%s[%d]", k.RunID, k.StepID, k.Item)
}

// StepError is a classified error of a step or an attempt.
type StepError struct {
	// Class is the error class, such as retryable, permanent or rate_limited.
	Class string `json:"class"`
	// Message is the error text, with secrets already redacted.
	Message string `json:"message"`
	// Field names the input the error is about, when there is one.
	Field string `json:"field,omitempty"`
}

// StepRecord is the state of one step of a run (of one item, for for_each).
type StepRecord struct {
	StepKey
	// Status is running until the step ends, then succeeded, failed or skipped.
	Status Status
	// Attempts counts the attempts started, across retries and fallbacks.
	Attempts int
	// Provider is the provider instance of the latest attempt: after a
	// fallback, the instance that was used.
	Provider string
	// Output is the step's JSON output; nil when it has none.
	Output json.RawMessage
	// Error is the latest error; nil when the latest attempt had none.
	Error *StepError
	// Reason says why the step was skipped (the if source text) or
	// canceled; empty otherwise.
	Reason string
	// Total is the number of items of a for_each step's aggregate record,
	// known once its list is rendered; zero for other records.
	Total int
	// StartedAt is when the step started.
	StartedAt time.Time
	// FinishedAt is when the step ended; zero while it runs.
	FinishedAt time.Time
}

// Validate reports an ErrInvalid error when r cannot be stored.
func (r StepRecord) Validate() error {
	if r.Total < 0 {
		return fmt.Errorf("%w: step %s: total %d is negative", ErrInvalid, r.name(), r.Total)
	}
	if err := r.StepKey.Validate(); err != nil {
		return err
	}
	if err := r.Status.validStep(); err != nil {
		return fmt.Errorf("step %s: %w", r.name(), err)
	}
	if r.Attempts < 0 {
		return fmt.Errorf("%w: step %s: attempts %d is negative", ErrInvalid, r.name(), r.Attempts)
	}
	if err := validJSON("output", r.Output); err != nil {
		return fmt.Errorf("step %s: %w", r.name(), err)
	}
	return nil
}

// AttemptStart describes an attempt about to call a plugin.
type AttemptStart struct {
	// Number is the attempt number, from 1, counted across retries and
	// fallbacks of the step.
	Number int
	// Provider is the provider instance the attempt calls.
	Provider string
	// Action is the action the attempt calls (a fallback's own action).
	Action string
	// StartedAt is when the attempt starts; it is required.
	StartedAt time.Time
}

// Validate reports an ErrInvalid error when a cannot be stored.
func (a AttemptStart) Validate() error {
	if err := validNumber(a.Number); err != nil {
		return err
	}
	if a.StartedAt.IsZero() {
		return fmt.Errorf("%w: attempt %d: start time is zero", ErrInvalid, a.Number)
	}
	return nil
}

// Outcome classifies how an attempt ended, for the run history.
type Outcome string

// The outcomes of an attempt. An attempt that failed is classed by its error
// (retryable, permanent, rate_limited, in_doubt); canceled marks an attempt
// stopped by a cancel; reconciled one whose send was found to have happened.
const (
	OutcomeSucceeded   Outcome = "succeeded"
	OutcomeRetryable   Outcome = "retryable"
	OutcomePermanent   Outcome = "permanent"
	OutcomeRateLimited Outcome = "rate_limited"
	OutcomeInDoubt     Outcome = "in_doubt"
	OutcomeCanceled    Outcome = "canceled"
	OutcomeReconciled  Outcome = "reconciled"
)

// Valid reports whether o is one of the outcomes, or empty.
func (o Outcome) Valid() bool {
	switch o {
	case "", OutcomeSucceeded, OutcomeRetryable, OutcomePermanent, OutcomeRateLimited,
		OutcomeInDoubt, OutcomeCanceled, OutcomeReconciled:
		return true
	}
	return false
}

// MaxExchange caps the bytes of an attempt's Request and Response; the
// engine truncates a larger exchange before it is stored.
const MaxExchange = 8 << 10

// AttemptResult is the outcome of an attempt.
type AttemptResult struct {
	// Status is the attempt's outcome: succeeded, failed, skipped or
	// canceled.
	Status Status
	// Outcome classes the result for the history; empty means it follows
	// from Status and Error's class.
	Outcome Outcome
	// RetryAfter is the wait a rate_limited provider asked for; zero when
	// none.
	RetryAfter time.Duration
	// Request and Response are the masked HTTP exchange the plugin reported
	// for the attempt (JSON objects {"method","url","body"} and
	// {"status","body"}); nil when it reported none.
	Request, Response json.RawMessage
	// WillRetry reports that the engine makes another attempt of the step (a
	// retry or a fallback), so the step record stays running. It is only
	// valid with StatusFailed; without it the result is final for the step.
	WillRetry bool
	// Output is the attempt's JSON output, if any.
	Output json.RawMessage
	// Error is the attempt's error, if any.
	Error *StepError
	// FinishedAt is when the attempt ended; it is required.
	FinishedAt time.Time
}

// Validate reports an ErrInvalid error when r cannot be stored.
func (r AttemptResult) Validate() error {
	switch {
	case !r.Status.Final():
		return fmt.Errorf("%w: attempt result status %q is not final", ErrInvalid, r.Status)
	case r.WillRetry && r.Status != StatusFailed:
		return fmt.Errorf("%w: attempt result: only a failure can be retried, not %q", ErrInvalid, r.Status)
	case r.FinishedAt.IsZero():
		return fmt.Errorf("%w: attempt result: finish time is zero", ErrInvalid)
	case !r.Outcome.Valid():
		return fmt.Errorf("%w: attempt result: unknown outcome %q", ErrInvalid, r.Outcome)
	case r.RetryAfter < 0:
		return fmt.Errorf("%w: attempt result: retry-after %s is negative", ErrInvalid, r.RetryAfter)
	}
	if err := validJSON("request", r.Request); err != nil {
		return err
	}
	if err := validJSON("response", r.Response); err != nil {
		return err
	}
	return validJSON("output", r.Output)
}

// Attempt is one entry of the attempt log.
type Attempt struct {
	StepKey
	// Number is the attempt number, from 1.
	Number int
	// Provider is the provider instance the attempt called.
	Provider string
	// Action is the action the attempt called.
	Action string
	// Status is running until the attempt finishes, then its outcome.
	Status Status
	// Outcome classes the result; empty while the attempt runs.
	Outcome Outcome
	// Error is the attempt's error; nil when it had none.
	Error *StepError
	// RetryAfter is the wait a rate_limited provider asked for.
	RetryAfter time.Duration
	// Request and Response are the masked exchange the plugin reported.
	Request, Response json.RawMessage
	// StartedAt is when the attempt started.
	StartedAt time.Time
	// FinishedAt is when the attempt ended; zero while it runs.
	FinishedAt time.Time
}

// validNumber reports an ErrInvalid error unless n is a valid attempt number.
func validNumber(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: attempt number %d is below 1", ErrInvalid, n)
	}
	return nil
}

// ValidateFinish reports an ErrInvalid error when FinishAttempt cannot take
// these arguments.
func ValidateFinish(key StepKey, attempt int, result AttemptResult) error {
	if err := key.Validate(); err != nil {
		return err
	}
	if err := validNumber(attempt); err != nil {
		return err
	}
	return result.Validate()
}

// ValidateFinishRun checks the arguments of RunCommitter.FinishAttemptRun:
// the finish as ValidateFinish does, and every delivery to index with it.
// The error names the delivery that breaks its rules.
func ValidateFinishRun(key StepKey, attempt int, result AttemptResult, deliveries []Delivery) error {
	if err := ValidateFinish(key, attempt, result); err != nil {
		return err
	}
	for _, d := range deliveries {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("index message: %w", err)
		}
	}
	return nil
}

// OutcomeOf returns the outcome recorded for result: its Outcome when set,
// else succeeded for a success, canceled for a cancel, and the error's class
// for a failure when it is one of the outcomes (retryable otherwise).
func OutcomeOf(result AttemptResult) Outcome {
	if result.Outcome != "" {
		return result.Outcome
	}
	switch result.Status {
	case StatusSucceeded, StatusSkipped:
		return OutcomeSucceeded
	case StatusCanceled:
		return OutcomeCanceled
	}
	if result.Error != nil {
		if o := Outcome(result.Error.Class); o.Valid() && o != "" {
			return o
		}
	}
	return OutcomeRetryable
}
