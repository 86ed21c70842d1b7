package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

var _ store.EagerStarter = (*Store)(nil)

// CreateStartAttemptRun creates the run and starts its first attempt in one
// transaction; see store.EagerStarter.
func (s *Store) CreateStartAttemptRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration, key store.StepKey, start store.AttemptStart) (store.Run, bool, error) {
	if err := store.ValidateEagerStart(run, key, start); err != nil {
		return store.Run{}, false, err
	}
	run, fingerprint, err := newRun(run, idemKey, ttl)
	if err != nil {
		return store.Run{}, false, err
	}
	var (
		existing store.Run
		existed  bool
		reused   bool
	)
	defer s.observeWait("create_start_attempt_run", time.Now())
	err = s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		existing, existed, reused, err = createRun(ctx, tx, run, fingerprint, idemKey, ttl)
		if err != nil || existed || reused {
			return err
		}
		return startAttempt(ctx, tx, key, start)
	})
	switch {
	case err != nil:
		return store.Run{}, false, fmt.Errorf("create run %s and start attempt %d of step %s: %w", run.ID, start.Number, keyName(key), err)
	case reused:
		return store.Run{}, false, fmt.Errorf("create run %s: %w", run.ID, store.ErrIdempotencyKeyReused)
	case existed:
		return existing, true, nil
	}
	s.runs.put(run, 0)
	return run, false, nil
}
