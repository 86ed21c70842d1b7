package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Heartbeat refreshes the heartbeat of every running run of owner in one
// statement and returns those whose cancel was requested. Both statements
// name the condition of runs_unfinished, whose running runs they read
// (migration 0010 dropped the index of running runs by owner).
func (s *Store) Heartbeat(ctx context.Context, owner string, at time.Time) ([]string, error) {
	if owner == "" || at.IsZero() {
		return nil, fmt.Errorf("heartbeat: %w: owner and time are required", store.ErrInvalid)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET heartbeat_at = ?
			WHERE `+unfinishedRunsCond+` AND status = 'running' AND owner = ?`, encodeTime(at), owner)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM runs
		WHERE `+unfinishedRunsCond+` AND status = 'running' AND owner = ? AND cancel_requested <> '' ORDER BY id`, owner)
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
// with them (ON DELETE CASCADE). The runs are deleted in background writes
// (see writer.doBackground) of as many runs as keep one transaction, its
// commit included, within backgroundTarget of the writer's time (s.pruneSize),
// so a webhook's write never waits long behind one.
func (s *Store) PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	n, _, err := s.PruneRunsHeld(ctx, cutoff, limit)
	return n, err
}

// PruneRunsHeld is PruneRuns that also returns how long its transactions
// held the writer, their commits included (what it reports as "prune_tx"),
// without the time they queued for it behind other writes: the retention
// pauses that long between two calls.
func (s *Store) PruneRunsHeld(ctx context.Context, cutoff time.Time, limit int) (int64, time.Duration, error) {
	if cutoff.IsZero() || limit < 1 {
		return 0, 0, fmt.Errorf("prune runs: %w: a cutoff and a positive limit are required", store.ErrInvalid)
	}
	var total int64
	var heldTotal time.Duration
	c := encodeTime(cutoff)
	defer s.observeWait("prune_runs", time.Now())
	for total < int64(limit) {
		size := s.pruneSize.next(limit - int(total))
		var n int64
		held, err := s.w.doBackground(ctx, func(ctx context.Context, tx *wtx) error {
			res, err := tx.ExecContext(ctx, pruneRunsQuery, c, size)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}, nil)
		heldTotal += held
		if err = classify(err); err != nil {
			return total, heldTotal, fmt.Errorf("prune runs: %w", err)
		}
		s.observeHeld("prune_tx", held)
		s.pruneSize.observe(size, held)
		total += n
		if n < int64(size) {
			break // none left
		}
	}
	return total, heldTotal, nil
}

// pruneRunsQuery deletes the oldest final runs created and finished before
// ?1, ?2 at most. It merges one arm per final status, each read from
// runs_settled_created in (created_at, id) order (runs has no index of
// every run by creation since migration 0012), so it reads about as many
// entries as it deletes.
var pruneRunsQuery = func() string {
	arms := make([]string, 0, len(storedRunStatuses))
	for _, st := range storedRunStatuses {
		if st.Final() {
			arms = append(arms, `SELECT id, created_at FROM runs WHERE `+settledRunsCond+` AND status = '`+string(st)+`'
				AND created_at < ?1 AND finished_at < ?1`)
		}
	}
	return `DELETE FROM runs WHERE id IN (SELECT id FROM (` + strings.Join(arms, ` UNION ALL `) + `
		ORDER BY created_at, id LIMIT ?2))`
}()

// backgroundTarget is how long one background write of the retention (a
// batch of deletes, an incremental vacuum step) should hold the writer,
// its commit included: a webhook's write that arrives meanwhile waits that
// long at most.
const backgroundTarget = 10 * time.Millisecond

// stepSize sizes the background writes of one kind (runs a delete
// transaction takes, pages a vacuum step frees) by the time the last one
// held the writer, aiming at backgroundTarget: in proportion, by half at
// most down and double at most up, between least and most.
type stepSize struct {
	n           atomic.Int64
	least, most int64
}

// newStepSize returns a stepSize that starts at start.
func newStepSize(start, least, most int64) *stepSize {
	z := &stepSize{least: least, most: most}
	z.n.Store(start)
	return z
}

// next returns the size of the next write, at most limit.
func (z *stepSize) next(limit int) int {
	return int(min(z.n.Load(), int64(limit)))
}

// observe adjusts the size after a write of size held the writer for held.
// A write cut short by limit only counts when it took too long.
func (z *stepSize) observe(size int, held time.Duration) {
	if held <= 0 {
		return
	}
	cur := z.n.Load()
	if int64(size) < cur && held <= backgroundTarget {
		return
	}
	next := int64(float64(size) * float64(backgroundTarget) / float64(held))
	next = max(z.least, min(z.most, max(int64(size)/2, min(next, 2*int64(size)))))
	z.n.Store(next)
}

// newPruneSize sizes the delete transactions of PruneRuns: 50 runs to
// start with (about 5 ms on a quiet machine, 2026-12-07).
func newPruneSize() *stepSize { return newStepSize(50, 8, 1000) }

// newVacuumSize sizes Compact's incremental vacuum steps, in pages of
// 4 KiB: 128 to start with, 256 at most. The writer's time is not all a
// step costs: each page it moves is written to the WAL and copied by the
// checkpointer's next pass, whose fsync every commit then queues behind on
// the disk; 1 MiB a step keeps that pass short.
func newVacuumSize() *stepSize { return newStepSize(128, 16, 256) }

// observeHeld reports how long a background write held the writer.
func (s *Store) observeHeld(op string, held time.Duration) {
	if fn := s.waitObs.Load(); fn != nil {
		(*fn)(op, held)
	}
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

// vacuumPause is the least pause between two incremental vacuum steps.
const vacuumPause = 20 * time.Millisecond

// Compact gives free pages back to the file system in incremental vacuum
// steps, each a background write (see writer.doBackground) of as many pages
// as keep it within backgroundTarget of the writer's time (s.vacuumSize),
// with a pause after each (vacuumPause, or as long as the step took), then
// copies the WAL into the file off the writer and truncates it.
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
		pages := s.vacuumSize.next(int(free))
		start := time.Now()
		held, err := s.w.doBackground(ctx, nil, func(ctx context.Context, conn *sql.Conn) error {
			rows, err := conn.QueryContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, pages))
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			return errors.Join(rows.Err(), rows.Close())
		})
		s.observeWait("vacuum", start)
		if err != nil {
			return fmt.Errorf("compact: incremental vacuum: %w", err)
		}
		s.observeHeld("vacuum_tx", held)
		s.vacuumSize.observe(pages, held)
		// Leave the disk to others between steps, at least as long as
		// the step held the writer.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(vacuumPause, held)):
		}
	}
	if err := s.truncateWAL(ctx); err != nil {
		return fmt.Errorf("compact: checkpoint: %w", err)
	}
	return nil
}

// truncateTries bounds the tries of truncateWAL; truncatePause is the pause
// between two.
const (
	truncateTries = 20
	truncatePause = 50 * time.Millisecond
)

// truncateWAL copies the WAL into the database file with a pass of the
// checkpointer's connection (off the writer), then, as a background write,
// copies what was appended since and truncates the WAL file, without
// waiting for readers: a reader still in the WAL makes it try again after
// a pause, truncateTries times at most; after that the WAL is left to the
// checkpointer.
func (s *Store) truncateWAL(ctx context.Context) error {
	defer s.observeWait("checkpoint", time.Now())
	for range truncateTries {
		if s.ckpt != nil {
			if _, err := s.ckpt.pass(ctx); err != nil {
				return err
			}
		}
		var busy int
		_, err := s.w.doBackground(ctx, nil, func(ctx context.Context, conn *sql.Conn) error {
			if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
				return err
			}
			var logPages, done int
			err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
			_, resetErr := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, s.busy.Milliseconds()))
			return errors.Join(err, resetErr)
		})
		if err != nil || busy == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(truncatePause):
		}
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
		return ifUnchanged(res, errNoStepRecord)
	})
	if err != nil {
		return fmt.Errorf("reopen step %s: %w", keyName(key), err)
	}
	return nil
}
