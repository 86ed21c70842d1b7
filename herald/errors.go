package herald

import (
	"errors"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/serve"
	"github.com/heraldhq/herald/internal/store"
)

// Errors of the embedding API and of a Store; test for them with errors.Is.
var (
	// ErrUnknownWorkflow is wrapped by the error for a workflow the project
	// does not declare.
	ErrUnknownWorkflow = errors.New("unknown workflow")
	// ErrNotFound is wrapped by the error for a run id the store does not
	// hold; a Store returns it for a run, step attempt or cron state that
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy is returned by Start while Serve runs when the queue of runs
	// admitted but not finished stayed full for several seconds: try again
	// later.
	ErrBusy = errors.New("too many runs queued; try again later")
	// ErrClosed is returned by the methods of a Herald after Close.
	ErrClosed = errors.New("herald is closed")
	// ErrConflict is returned by a Store for a write that contradicts what
	// is stored: a taken run ID, an attempt already started or finished, a
	// change to a step that has succeeded.
	ErrConflict = errors.New("conflict")
	// ErrInvalid is returned by a Store for an argument that breaks the
	// rules of its type, such as an empty run ID.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnavailable is returned by a Store whose database cannot serve the
	// call now but may later (locked, unreachable, out of space); nothing
	// was stored.
	ErrUnavailable = errors.New("store unavailable")
	// ErrIdempotencyKeyReused is returned by CreateRun for an idempotency
	// key bound to a run a different request created.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
)

// sentinels pairs each public error with the internal one it stands for.
var sentinels = [...]struct{ public, internal error }{
	{ErrUnknownWorkflow, engine.ErrUnknownWorkflow},
	{ErrNotFound, store.ErrNotFound},
	{ErrBusy, serve.ErrBusy},
	{ErrConflict, store.ErrConflict},
	{ErrInvalid, store.ErrInvalid},
	{ErrUnavailable, store.ErrUnavailable},
	{ErrIdempotencyKeyReused, store.ErrIdempotencyKeyReused},
}

// publicError returns err so that errors.Is matches both the public and
// the internal error of every pair it wraps either of; its message is
// unchanged. It is applied to every error crossing between this package's
// API (or an application's Store) and the engine, in both directions.
func publicError(err error) error {
	if err == nil {
		return nil
	}
	var also []error
	for _, s := range sentinels {
		if errors.Is(err, s.public) != errors.Is(err, s.internal) {
			if errors.Is(err, s.public) {
				also = append(also, s.internal)
			} else {
				also = append(also, s.public)
			}
		}
	}
	if len(also) == 0 {
		return err
	}
	return &bothErrors{err: err, also: also}
}

// bothErrors is an error that also matches the sentinels in also.
type bothErrors struct {
	err  error
	also []error
}

func (e *bothErrors) Error() string { return e.err.Error() }

func (e *bothErrors) Unwrap() []error { return append([]error{e.err}, e.also...) }
