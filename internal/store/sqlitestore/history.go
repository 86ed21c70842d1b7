package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Heartbeat refreshes the heartbeat of every running run of owner in one
// statement and returns those whose cancel was requested.
func (s *Store) Heartbeat(ctx context.Context, owner string, at time.Time) ([]string, error) {
	if owner == "" || at.IsZero() {
		return nil, fmt.Errorf("heartbeat: %w: owner and time are required", store.ErrInvalid)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET heartbeat_at = ? WHERE owner = ? AND status = 'running'`,
			encodeTime(at), owner)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM runs
		WHERE owner = ? AND status = 'running' AND cancel_requested <> '' ORDER BY id`, owner)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("heartbeat: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// PruneRuns deletes up to limit final runs created and finished before
// cutoff; their step records, attempts, operations and idempotency keys go
// with them (ON DELETE CASCADE).
func (s *Store) PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if cutoff.IsZero() || limit < 1 {
		return 0, fmt.Errorf("prune runs: %w: a cutoff and a positive limit are required", store.ErrInvalid)
	}
	var n int64
	c := encodeTime(cutoff)
	defer s.observeWait("prune_runs", time.Now())
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN (
			SELECT id FROM runs WHERE created_at < ? AND finished_at < ?
				AND status IN ('succeeded', 'failed', 'skipped', 'canceled')
			ORDER BY created_at, id LIMIT ?)`, c, c, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return n, nil
}

// AddOperation appends op to its run's operation log.
func (s *Store) AddOperation(ctx context.Context, op store.Operation) error {
	if err := op.Validate(); err != nil {
		return fmt.Errorf("add operation: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO run_operations (run_id, at, by_whom, action, detail)
			VALUES (?, ?, ?, ?, ?)`, op.RunID, encodeTime(op.At), op.By, op.Action, op.Detail)
		if err != nil {
			return missingRun(ctx, tx, op.RunID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add operation to run %s: %w", op.RunID, err)
	}
	return nil
}

// Operations returns the run's operation log, oldest first.
func (s *Store) Operations(ctx context.Context, runID string) ([]store.Operation, error) {
	ops := []store.Operation{}
	err := s.read.inTx(ctx, func(tx *readTx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT at, by_whom, action, detail FROM run_operations
			WHERE run_id = ? ORDER BY seq`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			op := store.Operation{RunID: runID}
			var at sql.NullString
			if err := rows.Scan(&at, &op.By, &op.Action, &op.Detail); err != nil {
				return err
			}
			if op.At, err = decodeTime(at); err != nil {
				return err
			}
			ops = append(ops, op)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("operations: %w", err)
	}
	return ops, nil
}

var _ store.Maintainer = (*Store)(nil)

// Size reports the bytes of the database file and its WAL.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store size: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

// vacuumPages is how many free pages one incremental vacuum step gives back:
// 128 pages of 4 KiB hold the writer for a few milliseconds.
const vacuumPages = 128

// vacuumPause is the least pause between two incremental vacuum steps.
const vacuumPause = 20 * time.Millisecond

// truncateWait is how long Compact's truncating checkpoint waits for
// readers.
const truncateWait = 50 * time.Millisecond

// Compact gives free pages back to the file system in small incremental
// vacuum steps, each its own write with a pause after it (vacuumPause, or as
// long as the step took), so webhooks' writes interleave, then checkpoints
// the WAL and truncates it.
func (s *Store) Compact(ctx context.Context) error {
	last := int64(-1)
	for {
		var free int64
		if err := s.read.QueryRowContext(ctx, `SELECT freelist_count FROM pragma_freelist_count`).Scan(&free); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		// Stop when nothing is free, or a step freed nothing (a database
		// whose auto_vacuum is not incremental).
		if free == 0 || (last >= 0 && free >= last) {
			break
		}
		last = free
		start := time.Now()
		err := s.w.doRaw(ctx, func(ctx context.Context, conn *sql.Conn) error {
			rows, err := conn.QueryContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumPages))
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			return errors.Join(rows.Err(), rows.Close())
		})
		took := time.Since(start)
		s.observeWait("vacuum", start)
		if err != nil {
			return fmt.Errorf("compact: incremental vacuum: %w", err)
		}
		// Leave the writer to others between steps, at least as long
		// as the step took.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(vacuumPause, took)):
		}
	}
	defer s.observeWait("checkpoint", time.Now())
	err := s.w.doRaw(ctx, func(ctx context.Context, conn *sql.Conn) error {
		// TRUNCATE waits for readers with the busy handler, holding the
		// writer meanwhile: for truncateWait at most. A reader still
		// there leaves the WAL as it is, for the checkpointer.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, truncateWait.Milliseconds())); err != nil {
			return err
		}
		var busy, logPages, done int
		err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
		_, resetErr := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, s.busy.Milliseconds()))
		return errors.Join(err, resetErr)
	})
	if err != nil {
		return fmt.Errorf("compact: checkpoint: %w", err)
	}
	return nil
}

// ReopenStep makes the step record of key running again.
func (s *Store) ReopenStep(ctx context.Context, key store.StepKey) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("reopen step: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE step_records SET status = 'running', output_json = NULL,
			error_class = NULL, error_message = NULL, error_field = NULL, reason = '', finished_at = NULL
			WHERE run_id = ? AND step_id = ? AND item = ?`, key.RunID, key.StepID, key.Item)
		if err != nil {
			return err
		}
		return ifUnchanged(res, fmt.Errorf("step record: %w", store.ErrNotFound))
	})
	if err != nil {
		return fmt.Errorf("reopen step %s: %w", keyName(key), err)
	}
	return nil
}
