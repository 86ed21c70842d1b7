package pgstore

import (
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// RunEndHook returns a statement to make in the transaction whose update
// ends the run id (its status becoming final), with its arguments, or an
// empty query for none. The statement must not fail for any outcome (it
// may change no row): its result is not read. It is called once per try
// of the write, which may be retried or fail, so it must not assume the
// run ended.
type RunEndHook func(runID string) (query string, args []any)

// SetRunEndHook makes every run update of this store that ends a run carry
// the statement hook returns, in the same transaction and round trip: the
// scale-out host deletes the River job it held back for a run it executes
// itself, so the run's end costs no commit of its own. nil removes the hook.
func (s *Store) SetRunEndHook(hook RunEndHook) {
	if hook == nil {
		s.onRunEnd.Store(nil)
		return
	}
	s.onRunEnd.Store(&hook)
}

// withRunEnd returns also with the run end hook's statement appended when
// the update from prev to next ends the run and the hook has one; also
// unchanged otherwise.
func (s *Store) withRunEnd(prev, next store.Run, also queueAlso) queueAlso {
	hook := s.onRunEnd.Load()
	if hook == nil || prev.Status.Final() || !next.Status.Final() {
		return also
	}
	query, args := (*hook)(next.ID)
	if query == "" {
		return also
	}
	return func(b *pgx.Batch, checked bool) {
		if also != nil {
			also(b, checked)
		}
		b.Queue(query, args...)
	}
}

// QueueStartAttempt queues on b, a transaction's batch queued after the
// statement that creates the run, the start of an attempt as StartAttempt
// makes it: the scale-out host creates a run it executes at once with its
// first attempt started. The statement's callback fails with the store's
// error when the attempt cannot start, and the caller must then roll the
// transaction back.
func (s *Store) QueueStartAttempt(b *pgx.Batch, key store.StepKey, start store.AttemptStart) error {
	if err := key.Validate(); err != nil {
		return err
	}
	if err := start.Validate(); err != nil {
		return err
	}
	s.queueStartAttempt(b, key, start)
	return nil
}

// QueueStartAttemptChecked is QueueStartAttempt for a batch that carries
// its own transaction (see QueueCreateRunsChecked): the statement fails,
// writing nothing, when the attempt does not start, and has no callback.
func (s *Store) QueueStartAttemptChecked(b *pgx.Batch, key store.StepKey, start store.AttemptStart) error {
	if err := key.Validate(); err != nil {
		return err
	}
	if err := start.Validate(); err != nil {
		return err
	}
	b.Queue(s.sql(startAttemptFor(start.Number, true)), startAttemptArgs(key, start)...)
	return nil
}

// CacheCreated keeps run, as a create that committed stored it (version
// 0), in the run cache, so that the run's next update costs no read; see
// store.RunCache. The version check of that update refuses the copy if
// another writer changed the run first.
func (s *Store) CacheCreated(run store.Run) { s.runs.Put(normRun(run), 0) }
