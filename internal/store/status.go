package store

import (
	"fmt"
	"slices"
	"strings"
)

// Status is the state of a run, a step record or an attempt.
type Status string

// The statuses. Runs may be in any of them but interrupted, which is never
// stored (see StatusInterrupted); step records and attempts never queue.
//
// A run moves queued → running → one of the final statuses (succeeded,
// failed, skipped, canceled). Between them it may be waiting (parked on a
// wait, a wait_for or a send window; it holds no process and resumes when
// its timer fires or its signal arrives) or needs_attention (stopped on an
// in-doubt send until an operator resolves it). Neither of those two is
// final, and neither is resumed when a host starts: UnfinishedRuns returns
// only queued and running runs. An operator can move a run on from them
// (resolve, signal, retry, cancel).
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
	// StatusCanceled marks a run an operator stopped. It is final, but a
	// canceled run may be retried (see Retryable).
	StatusCanceled Status = "canceled"
	// StatusWaiting marks a run parked on a wait, a wait_for or a send
	// window. It is not final and not resumed by UnfinishedRuns: its timer
	// or signal moves it on.
	StatusWaiting Status = "waiting"
	// StatusNeedsAttention marks a run stopped on an in-doubt send, waiting
	// for an operator to resolve, retry or cancel it. It is not final and
	// never resumed by itself.
	StatusNeedsAttention Status = "needs_attention"
	// StatusInterrupted is how a running run is shown when the process that
	// owns it stopped beating (see Run.Interrupted): nothing executes it and
	// nothing resumes it until a `herald serve` starts or `herald runs
	// resume` is run. It is derived, never stored: the stored status stays
	// running, and a filter on it selects running runs with a stale heartbeat.
	StatusInterrupted Status = "interrupted"
)

// RunStatuses lists every status a run can be shown in, in lifecycle order.
var RunStatuses = []Status{StatusQueued, StatusRunning, StatusWaiting, StatusNeedsAttention, StatusInterrupted,
	StatusSucceeded, StatusFailed, StatusSkipped, StatusCanceled}

// Final reports whether s is an end state: succeeded, failed, skipped or
// canceled. A final run is never executed again unless an operator retries
// it.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusSkipped || s == StatusCanceled
}

// Retryable reports whether an operator may retry a run in status s: failed,
// canceled or needs_attention.
func (s Status) Retryable() bool {
	return s == StatusFailed || s == StatusCanceled || s == StatusNeedsAttention
}

// Cancelable reports whether an operator may cancel a run in status s:
// queued, running (also when shown interrupted), waiting or needs_attention.
func (s Status) Cancelable() bool {
	return s == StatusQueued || s == StatusRunning || s == StatusWaiting ||
		s == StatusNeedsAttention || s == StatusInterrupted
}

// validRun reports an error unless s is a status a run can be stored in.
func (s Status) validRun() error {
	switch s {
	case StatusQueued, StatusRunning, StatusWaiting, StatusNeedsAttention:
		return nil
	}
	if s.Final() {
		return nil
	}
	return fmt.Errorf("%w: unknown run status %q", ErrInvalid, s)
}

// validStep reports an error unless s is a step status. A step is waiting
// while its run waits on it, needs_attention while its send is in doubt,
// and canceled when its run was canceled while it ran.
func (s Status) validStep() error {
	switch s {
	case StatusRunning, StatusWaiting, StatusNeedsAttention:
		return nil
	}
	if s.Final() {
		return nil
	}
	return fmt.Errorf("%w: unknown step status %q", ErrInvalid, s)
}

// ParseRunStatus returns the run status named s, or an
// error that lists the run statuses, as the API and the CLI report it.
func ParseRunStatus(s string) (Status, error) {
	st := Status(s)
	if slices.Contains(RunStatuses, st) {
		return st, nil
	}
	names := make([]string, len(RunStatuses))
	for i, r := range RunStatuses {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown status %q (want %s)", s, strings.Join(names, ", "))
}
