package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

// querier runs the store's statements ({schema} qualified, errors
// classified), each in its own transaction: the *Store does.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error)
	queryRow(ctx context.Context, query string, args ...any) pgx.Row
}

// inBatchTx runs the statements fn queues in one transaction: BEGIN and the
// statements go in one round trip, then COMMIT, or ROLLBACK when a
// statement or one of its callbacks failed. fn qualifies its queries with
// s.sql.
func (s *Store) inBatchTx(ctx context.Context, fn func(*pgx.Batch)) error {
	if s.closed.Load() {
		return errClosed
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	fn(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		if _, rbErr := conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`); rbErr != nil {
			// The connection's state is unknown: it must not go back to
			// the pool.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return classify(err)
	}
	if _, err := conn.Exec(ctx, `COMMIT`); err != nil {
		return classify(err)
	}
	return nil
}

// sendChecked runs the statements fn queues in one implicit transaction,
// with no BEGIN, in the write group (see groupWrite): they commit together
// when the last one succeeded, and none does when one fails. Their results
// are read only after that, so a statement whose outcome matters must fail
// by itself when it is not the expected one (see queueAlso), and fn must
// set no callbacks. fn qualifies its queries with s.sql.
func (s *Store) sendChecked(ctx context.Context, fn func(*pgx.Batch)) error {
	if s.closed.Load() {
		return errClosed
	}
	b := &pgx.Batch{}
	fn(b)
	stmts := make([]stmt, len(b.QueuedQueries))
	for i, q := range b.QueuedQueries {
		stmts[i] = stmt{sql: q.SQL, args: q.Arguments}
	}
	_, err := s.groupWrite(ctx, stmts)
	return err
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
	run, err := s.updateRun(ctx, key.RunID, update, func(b *pgx.Batch, checked bool) {
		if checked {
			b.Queue(s.sql(startAttemptFor(start.Number, true)), startAttemptArgs(key, start)...)
			return
		}
		s.queueStartAttempt(b, key, start)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		err = startAttemptErr(key, pgconn.CommandTag{}, err)
	}
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
	run, err := s.updateRun(ctx, key.RunID, update, func(b *pgx.Batch, checked bool) {
		if checked {
			b.Queue(s.sql(finishAttemptFor(attempt, true)), finishAttemptArgs(key, attempt, result)...)
		} else {
			b.Queue(s.sql(finishAttemptFor(attempt, false)), finishAttemptArgs(key, attempt, result)...).QueryRow(func(row pgx.Row) error {
				return scanFinish(row)
			})
		}
		for _, d := range deliveries {
			b.Queue(s.sql(indexMessage), indexMessageArgs(d)...)
		}
	})
	for _, d := range deliveries {
		if e := indexMessageErr(d, err); e != err {
			err = fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, e)
			break
		}
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("finish attempt %d of step %s: %w", attempt, keyName(key), err)
	}
	return run, nil
}
