package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// StartWithin marks the queued run id running for owner when fewer than
// limit runs of its workflow are running, so a workflow's concurrency limit
// holds across every host sharing the store. It reports whether the run may
// execute: true when it claimed a slot, and also when the run was no longer
// queued (it holds its slot from an earlier start, or has ended, which
// Execute then reports). With limit zero or less every run may start.
//
// Claims of one workflow are serialised by a transaction-scoped advisory
// lock, so racing hosts never start more runs than the limit; a run keeps its
// slot while it is running, also across a crash of its host until another
// resumes and finishes it. An unknown run is ErrNotFound.
func (s *Store) StartWithin(ctx context.Context, id, owner string, limit int) (bool, error) {
	started := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var workflow, status string
		err := tx.QueryRow(ctx, s.sql(`SELECT workflow, status FROM {schema}.runs WHERE id = $1`), id).Scan(&workflow, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("run %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status != string(store.StatusQueued) || limit <= 0 {
			started = true
			return nil
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, limitLockKey(s.schema, workflow)); err != nil {
			return fmt.Errorf("take concurrency lock: %w", err)
		}
		var running int
		if err := tx.QueryRow(ctx, s.sql(`SELECT COUNT(*) FROM {schema}.runs WHERE status = 'running' AND workflow = $1`),
			workflow).Scan(&running); err != nil {
			return err
		}
		if running >= limit {
			return nil
		}
		// When no row changes, another host started the run meanwhile: it
		// holds the slot, and Execute here finds the run running.
		if _, err := tx.Exec(ctx, s.sql(`UPDATE {schema}.runs SET status = 'running', owner = $2, heartbeat_at = now(),
			version = version + 1 WHERE id = $1 AND status = 'queued'`), id, owner); err != nil {
			return err
		}
		started = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("start run %s within its concurrency limit: %w", id, err)
	}
	return started, nil
}

// limitLockKey returns the advisory lock key that serialises the concurrency
// claims of one workflow in one schema.
func limitLockKey(schema, workflow string) int64 {
	h := fnv.New64a()
	h.Write([]byte("herald/pgstore/limit\x00" + schema + "\x00" + workflow))
	return int64(h.Sum64())
}
