package store

import "fmt"

// Status is the state of a run, a step record or an attempt.
type Status string

// The statuses. Runs use all five; step records and attempts never queue.
const (
	// StatusQueued marks a run that waits for a concurrency slot.
	StatusQueued Status = "queued"
	// StatusRunning marks work in progress.
	StatusRunning Status = "running"
	// StatusSucceeded marks work that completed.
	StatusSucceeded Status = "succeeded"
	// StatusFailed marks work that ended in an error.
	StatusFailed Status = "failed"
	// StatusSkipped marks work that a condition decided not to do.
	StatusSkipped Status = "skipped"
)

// Final reports whether s is an end state: succeeded, failed or skipped.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusSkipped
}

// validRun reports an error unless s is a run status.
func (s Status) validRun() error {
	if s == StatusQueued || s == StatusRunning || s.Final() {
		return nil
	}
	return fmt.Errorf("%w: unknown run status %q", ErrInvalid, s)
}

// validStep reports an error unless s is a step status.
func (s Status) validStep() error {
	if s == StatusRunning || s.Final() {
		return nil
	}
	return fmt.Errorf("%w: unknown step status %q", ErrInvalid, s)
}
