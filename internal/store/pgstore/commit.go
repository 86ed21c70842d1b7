package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

// querier runs the store's statements ({schema} qualified, errors
// classified) on the pool, each in its own transaction (the *Store), or in
// a transaction the caller holds (txQuerier).
type querier interface {
	exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error)
	queryRow(ctx context.Context, query string, args ...any) pgx.Row
}

// txQuerier runs statements in tx.
type txQuerier struct {
	s  *Store
	tx pgx.Tx
}

func (q txQuerier) exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	tag, err := q.tx.Exec(ctx, q.s.sql(query), args...)
	return tag, classify(err)
}

func (q txQuerier) queryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return classifiedRow{q.tx.QueryRow(ctx, q.s.sql(query), args...)}
}

// StartAttemptRun updates the run and starts the attempt in one
// transaction; see store.RunCommitter.
func (s *Store) StartAttemptRun(ctx context.Context, key store.StepKey, start store.AttemptStart, update func(*store.Run) error) (store.Run, error) {
	if err := key.Validate(); err != nil {
		return store.Run{}, fmt.Errorf("start attempt: %w", err)
	}
	if err := start.Validate(); err != nil {
		return store.Run{}, fmt.Errorf("start attempt: %w", err)
	}
	run, err := s.updateRun(ctx, key.RunID, update, func(ctx context.Context, q querier) error {
		return s.startAttemptOn(ctx, q, key, start)
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("start attempt %d of step %s: %w", start.Number, keyName(key), err)
	}
	return run, nil
}

// FinishAttemptRun finishes the attempt, indexes the deliveries and updates
// the run in one transaction; see store.RunCommitter.
func (s *Store) FinishAttemptRun(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult, deliveries []store.Delivery, update func(*store.Run) error) (store.Run, error) {
	if err := store.ValidateFinish(key, attempt, result); err != nil {
		return store.Run{}, fmt.Errorf("finish attempt: %w", err)
	}
	for _, d := range deliveries {
		if err := d.Validate(); err != nil {
			return store.Run{}, fmt.Errorf("finish attempt: index message: %w", err)
		}
	}
	run, err := s.updateRun(ctx, key.RunID, update, func(ctx context.Context, q querier) error {
		if err := s.finishAttemptOn(ctx, q, key, attempt, result); err != nil {
			return err
		}
		for _, d := range deliveries {
			if err := s.indexMessageOn(ctx, q, d); err != nil {
				return fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("finish attempt %d of step %s: %w", attempt, keyName(key), err)
	}
	return run, nil
}
