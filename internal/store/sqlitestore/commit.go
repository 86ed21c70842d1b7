package sqlitestore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

// StartAttemptRun updates the run and starts the attempt in one
// transaction; see store.RunCommitter.
func (s *Store) StartAttemptRun(ctx context.Context, key store.StepKey, start store.AttemptStart, update func(*store.Run) error) (store.Run, error) {
	if err := key.Validate(); err != nil {
		return store.Run{}, fmt.Errorf("start attempt: %w", err)
	}
	if err := start.Validate(); err != nil {
		return store.Run{}, fmt.Errorf("start attempt: %w", err)
	}
	run, err := s.updateRun(ctx, key.RunID, update, func(ctx context.Context, tx *wtx) error {
		return startAttempt(ctx, tx, key, start)
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), err)
	}
	return run, nil
}

// FinishAttemptRun finishes the attempt, indexes the deliveries and updates
// the run in one transaction; see store.RunCommitter.
func (s *Store) FinishAttemptRun(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult, deliveries []store.Delivery, update func(*store.Run) error) (store.Run, error) {
	if err := store.ValidateFinishRun(key, attempt, result, deliveries); err != nil {
		return store.Run{}, fmt.Errorf("finish attempt: %w", err)
	}
	run, err := s.updateRun(ctx, key.RunID, update, func(ctx context.Context, tx *wtx) error {
		return finishAttemptRun(ctx, tx, key, attempt, result, deliveries)
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("finish attempt %d of step %s: %w", attempt, keyName(key), err)
	}
	return run, nil
}

// finishAttemptRun finishes the attempt and indexes the deliveries, in the
// caller's transaction. The message a first attempt sent is bound in the
// same statement as its result when it can go to the step record's row
// (see indexMessage), so the usual send costs no statement of its own.
func finishAttemptRun(ctx context.Context, tx *wtx, key store.StepKey, attempt int, result store.AttemptResult, deliveries []store.Delivery) error {
	if attempt == 1 && len(deliveries) > 0 && deliveries[0].StepKey == key {
		d := deliveries[0]
		recStatus, finished := finishedRecord(tx, result)
		bound, err := finishFirstAttemptWith(ctx, tx, key, result, recStatus, finished, &d)
		if err != nil {
			return err
		}
		if !bound {
			if err := indexMessageApart(ctx, tx, d); err != nil {
				return fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, err)
			}
		}
		deliveries = deliveries[1:]
	} else if err := finishAttempt(ctx, tx, key, attempt, result); err != nil {
		return err
	}
	for _, d := range deliveries {
		if err := indexMessage(ctx, tx, d); err != nil {
			return fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, err)
		}
	}
	return nil
}

// Commits reports how many write transactions the store has begun since it
// was opened. Each costs one commit (one fsync with synchronous=FULL),
// shared by the writes grouped in it. It is for tests and benchmarks.
func (s *Store) Commits() int64 { return s.w.groups.Load() }
