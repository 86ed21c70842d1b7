package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// Heartbeat refreshes the heartbeat of every running run of owner in one
// statement and returns those whose cancel was requested. It names the
// condition of runs_unfinished, the index it reads the running runs from.
func (s *Store) Heartbeat(ctx context.Context, owner string, at time.Time) ([]string, error) {
	if owner == "" || at.IsZero() {
		return nil, fmt.Errorf("heartbeat: %w: owner and time are required", store.ErrInvalid)
	}
	rows, err := s.query(ctx, `UPDATE {schema}.runs SET heartbeat_at = $2
		WHERE status IN ('queued', 'running') AND status = 'running' AND owner = $1
		RETURNING id, cancel_requested`, owner, encodeTime(at))
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, cancel string
		if err := rows.Scan(&id, &cancel); err != nil {
			return nil, fmt.Errorf("heartbeat: %w", err)
		}
		if cancel != "" {
			ids = append(ids, id)
		}
	}
	if err := classify(rows.Err()); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return ids, nil
}

// PruneRuns deletes up to limit final runs created and finished before
// cutoff; their step records, attempts, operations and idempotency keys go
// with them (ON DELETE CASCADE). SKIP LOCKED lets two replicas prune at once
// without waiting on each other.
func (s *Store) PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if cutoff.IsZero() || limit < 1 {
		return 0, fmt.Errorf("prune runs: %w: a cutoff and a positive limit are required", store.ErrInvalid)
	}
	tag, err := s.exec(ctx, `DELETE FROM {schema}.runs WHERE id IN (
		SELECT id FROM {schema}.runs WHERE created_at < $1 AND finished_at < $1
			AND status IN ('succeeded', 'failed', 'skipped', 'canceled')
		ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)`, encodeTime(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// operationsRunFK is the foreign key of run_operations on runs.
const operationsRunFK = "run_operations_run_id_fkey"

// AddOperation appends op to its run's operation log.
func (s *Store) AddOperation(ctx context.Context, op store.Operation) error {
	if err := op.Validate(); err != nil {
		return fmt.Errorf("add operation: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO {schema}.run_operations (run_id, at, by_whom, action, detail)
		VALUES ($1, $2, $3, $4, $5)`, op.RunID, encodeTime(op.At), op.By, op.Action, op.Detail)
	if violates(err, codeForeignKey, operationsRunFK) {
		err = fmt.Errorf("run %s: %w", op.RunID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("add operation to run %s: %w", op.RunID, err)
	}
	return nil
}

// Operations returns the run's operation log, oldest first.
func (s *Store) Operations(ctx context.Context, runID string) ([]store.Operation, error) {
	rows, err := s.query(ctx, `SELECT at, by_whom, action, detail FROM {schema}.run_operations
		WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("operations of run %s: %w", runID, err)
	}
	defer rows.Close()
	ops := []store.Operation{}
	for rows.Next() {
		op := store.Operation{RunID: runID}
		var at pgtype.Timestamptz
		if err := rows.Scan(&at, &op.By, &op.Action, &op.Detail); err != nil {
			return nil, fmt.Errorf("operations of run %s: %w", runID, err)
		}
		op.At = decodeTime(at)
		ops = append(ops, op)
	}
	if err := s.emptyResult(ctx, rows.Err(), len(ops), runID); err != nil {
		return nil, fmt.Errorf("operations: %w", err)
	}
	return ops, nil
}

var _ store.Maintainer = (*Store)(nil)

// Size reports the bytes of the store's tables with their indexes and TOAST.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relkind = 'r'`, s.schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store size: %w", err)
	}
	return n, nil
}

// Compact does nothing: PostgreSQL's autovacuum reuses the space that
// PruneRuns frees.
func (s *Store) Compact(ctx context.Context) error { return nil }

// ReopenStep makes the step record of key running again.
func (s *Store) ReopenStep(ctx context.Context, key store.StepKey) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("reopen step: %w", err)
	}
	tag, err := s.exec(ctx, `UPDATE {schema}.step_records SET status = 'running', output_json = NULL,
		error_class = NULL, error_message = NULL, error_field = NULL, reason = '', finished_at = NULL
		WHERE run_id = $1 AND step_id = $2 AND item = $3`, key.RunID, key.StepID, key.Item)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("step record: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("reopen step %s: %w", keyName(key), err)
	}
	return nil
}
