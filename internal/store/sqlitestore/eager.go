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
	return s.createRunWith(ctx, run, idemKey, ttl, func(ctx context.Context, tx *wtx) error {
		if err := startAttempt(ctx, tx, key, start); err != nil {
			return fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), err)
		}
		return nil
	})
}
