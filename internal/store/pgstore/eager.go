package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

var _ store.EagerStarter = (*Store)(nil)

// CreateStartAttemptRun creates the run and starts its first attempt in one
// transaction; see store.EagerStarter.
func (s *Store) CreateStartAttemptRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration, key store.StepKey, start store.AttemptStart) (store.Run, bool, error) {
	if err := store.ValidateEagerStart(run, key, start); err != nil {
		return store.Run{}, false, err
	}
	if run.TriggerKind == "" {
		run.TriggerKind = store.TriggerKindOf(run.Trigger)
	}
	var (
		stored  store.Run
		existed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		stored, existed, err = s.CreateRunTx(ctx, tx, run, idemKey, ttl)
		if err != nil || existed {
			return err
		}
		b := &pgx.Batch{}
		s.queueStartAttempt(b, key, start)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), classify(err))
		}
		return nil
	})
	if err != nil {
		return store.Run{}, false, err
	}
	return stored, existed, nil
}
