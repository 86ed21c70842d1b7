package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

var _ store.Waits = (*Store)(nil)

// waitColumns are the columns scanWait reads, in order.
const waitColumns = `run_id, step_id, item, deadline, event, instance, match_key, signal, state, output_json, created_at, resolved_at`

func scanWait(row pgx.Row) (store.Wait, error) {
	var (
		w                           store.Wait
		state                       string
		output                      []byte
		deadline, created, resolved pgtype.Timestamptz
	)
	if err := row.Scan(&w.RunID, &w.StepID, &w.Item, &deadline, &w.Event, &w.Instance, &w.MatchKey, &w.Signal, &state, &output, &created, &resolved); err != nil {
		return store.Wait{}, err
	}
	w.Resolved = state == "resolved"
	w.Output = decodeJSON(output)
	w.Deadline, w.CreatedAt, w.ResolvedAt = decodeTime(deadline), decodeTime(created), decodeTime(resolved)
	return w, nil
}

// CreateWait stores w unless its key has a wait; see store.Waits.
func (s *Store) CreateWait(ctx context.Context, w store.Wait) (store.Wait, error) {
	if err := w.Validate(); err != nil {
		return store.Wait{}, fmt.Errorf("create wait: %w", err)
	}
	var stored store.Wait
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, s.sql(`SELECT 1 FROM {schema}.runs WHERE id = $1`), w.RunID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("run %s: %w", w.RunID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.sql(`INSERT INTO {schema}.waits (run_id, step_id, item, deadline, event, instance, match_key, signal, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id, step_id, item) DO NOTHING`),
			w.RunID, w.StepID, w.Item, encodeTime(w.Deadline), w.Event, w.Instance, w.MatchKey, w.Signal, encodeTime(w.CreatedAt))
		if err != nil {
			return err
		}
		stored, err = scanWait(tx.QueryRow(ctx, s.sql(`SELECT `+waitColumns+` FROM {schema}.waits WHERE run_id = $1 AND step_id = $2 AND item = $3`),
			w.RunID, w.StepID, w.Item))
		return err
	})
	if err != nil {
		return store.Wait{}, fmt.Errorf("create wait %s/%s: %w", w.RunID, w.StepID, err)
	}
	return stored, nil
}

// GetWait returns the wait of key.
func (s *Store) GetWait(ctx context.Context, key store.StepKey) (store.Wait, error) {
	w, err := scanWait(s.queryRow(ctx, `SELECT `+waitColumns+` FROM {schema}.waits WHERE run_id = $1 AND step_id = $2 AND item = $3`,
		key.RunID, key.StepID, key.Item))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Wait{}, fmt.Errorf("wait %s/%s: %w", key.RunID, key.StepID, store.ErrNotFound)
	}
	if err != nil {
		return store.Wait{}, fmt.Errorf("wait %s/%s: %w", key.RunID, key.StepID, err)
	}
	return w, nil
}

// ParkRun moves a running run with a pending wait to waiting.
func (s *Store) ParkRun(ctx context.Context, runID, owner, reason string) (bool, error) {
	tag, err := s.exec(ctx, `UPDATE {schema}.runs SET status = 'waiting', reason = $1, owner = '', version = version + 1
		WHERE id = $2 AND status = 'running' AND owner = $3
		AND EXISTS (SELECT 1 FROM {schema}.waits WHERE run_id = $2 AND state = 'pending')`, reason, runID, owner)
	if err != nil {
		return false, fmt.Errorf("park run %s: %w", runID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResolveWait settles a pending wait and requeues its waiting run.
func (s *Store) ResolveWait(ctx context.Context, key store.StepKey, output json.RawMessage, at time.Time) (resolved, requeued bool, err error) {
	if len(output) > 0 && !json.Valid(output) {
		return false, false, fmt.Errorf("resolve wait: %w: output is not valid JSON", store.ErrInvalid)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) (err error) {
		resolved, requeued, err = s.resolveWait(ctx, tx, key, output, at)
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("resolve wait %s/%s: %w", key.RunID, key.StepID, err)
	}
	return resolved, requeued, nil
}

// resolveWait settles the pending wait of key in tx and requeues its run
// when it waits; see store.Waits.ResolveWait.
func (s *Store) resolveWait(ctx context.Context, tx pgx.Tx, key store.StepKey, output json.RawMessage, at time.Time) (resolved, requeued bool, err error) {
	tag, err := tx.Exec(ctx, s.sql(`UPDATE {schema}.waits SET state = 'resolved', output_json = $1, resolved_at = $2
		WHERE run_id = $3 AND step_id = $4 AND item = $5 AND state = 'pending'`),
		encodeJSON(output), encodeTime(at), key.RunID, key.StepID, key.Item)
	if err != nil || tag.RowsAffected() == 0 {
		return false, false, err
	}
	tag, err = tx.Exec(ctx, s.sql(`UPDATE {schema}.runs SET status = 'queued', reason = '', owner = '', version = version + 1
		WHERE id = $1 AND status = 'waiting'`), key.RunID)
	return true, err == nil && tag.RowsAffected() == 1, err
}

// KeepSignal keeps a signal for a step that waits for it later.
func (s *Store) KeepSignal(ctx context.Context, runID, signal string, output json.RawMessage, at time.Time) error {
	if signal == "" || !json.Valid(output) || at.IsZero() {
		return fmt.Errorf("keep signal: %w: a signal name, a JSON output and a time are required", store.ErrInvalid)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locking the run serializes the signals kept for it, so the bound
		// holds between replicas.
		var one int
		if err := tx.QueryRow(ctx, s.sql(`SELECT 1 FROM {schema}.runs WHERE id = $1 FOR UPDATE`), runID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, s.sql(`SELECT COUNT(*) FROM {schema}.signal_inbox WHERE run_id = $1`), runID).Scan(&n); err != nil {
			return err
		}
		if n >= store.SignalInboxMax {
			return fmt.Errorf("%w: run %s keeps %d signals already", store.ErrInboxFull, runID, n)
		}
		_, err := tx.Exec(ctx, s.sql(`INSERT INTO {schema}.signal_inbox (run_id, signal, output_json, received_at) VALUES ($1, $2, $3, $4)`),
			runID, signal, encodeJSON(output), encodeTime(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("keep signal %q for run %s: %w", signal, runID, err)
	}
	return nil
}

// TakeSignal settles a pending wait with the oldest kept signal.
func (s *Store) TakeSignal(ctx context.Context, key store.StepKey, signal string, at time.Time) (resolved, requeued bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		resolved, requeued = false, false
		var (
			id     int64
			output []byte
		)
		err := tx.QueryRow(ctx, s.sql(`SELECT id, output_json FROM {schema}.signal_inbox WHERE run_id = $1 AND signal = $2
			ORDER BY id LIMIT 1 FOR UPDATE`), key.RunID, signal).Scan(&id, &output)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if resolved, requeued, err = s.resolveWait(ctx, tx, key, decodeJSON(output), at); err != nil || !resolved {
			return err
		}
		_, err = tx.Exec(ctx, s.sql(`DELETE FROM {schema}.signal_inbox WHERE id = $1`), id)
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("take signal %q for %s/%s: %w", signal, key.RunID, key.StepID, err)
	}
	return resolved, requeued, nil
}

// EventWaits returns the pending waits for event from instance.
func (s *Store) EventWaits(ctx context.Context, event, instance string, keys []string) ([]store.Wait, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	return s.waits(ctx, `WHERE state = 'pending' AND event <> '' AND event = $1 AND instance = $2 AND match_key = ANY($3)`, event, instance, keys)
}

// SignalWaits returns the run's pending waits for signal.
func (s *Store) SignalWaits(ctx context.Context, runID, signal string) ([]store.Wait, error) {
	return s.waits(ctx, `WHERE state = 'pending' AND signal <> '' AND run_id = $1 AND signal = $2`, runID, signal)
}

// PendingWaits returns every pending wait, soonest first.
func (s *Store) PendingWaits(ctx context.Context) ([]store.Wait, error) {
	return s.waits(ctx, `WHERE state = 'pending' ORDER BY deadline`)
}

func (s *Store) waits(ctx context.Context, where string, args ...any) ([]store.Wait, error) {
	rows, err := s.query(ctx, `SELECT `+waitColumns+` FROM {schema}.waits `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("waits: %w", err)
	}
	defer rows.Close()
	var out []store.Wait
	for rows.Next() {
		w, err := scanWait(rows)
		if err != nil {
			return nil, fmt.Errorf("waits: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("waits: %w", classify(err))
	}
	return out, nil
}

// AddInboxEvent keeps ev and trims the inbox of its type and instance.
func (s *Store) AddInboxEvent(ctx context.Context, ev store.InboxEvent) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("add inbox event: %w", err)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return s.addInbox(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("add inbox event: %w", err)
	}
	return nil
}

// addInbox keeps ev in tx and, every store.InboxTrimEvery events, trims
// the inbox of its type and instance.
func (s *Store) addInbox(ctx context.Context, tx pgx.Tx, ev store.InboxEvent) error {
	var id int64
	if err := tx.QueryRow(ctx, s.sql(`INSERT INTO {schema}.wait_inbox (event, instance, data_json, received_at) VALUES ($1, $2, $3, $4) RETURNING id`),
		ev.Event, ev.Instance, encodeJSON(ev.Data), encodeTime(ev.ReceivedAt)).Scan(&id); err != nil {
		return err
	}
	if id%store.InboxTrimEvery != 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, s.sql(`DELETE FROM {schema}.wait_inbox WHERE event = $1 AND instance = $2 AND received_at < $3`),
		ev.Event, ev.Instance, encodeTime(ev.ReceivedAt.Add(-store.InboxMaxAge))); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, s.sql(`DELETE FROM {schema}.wait_inbox WHERE event = $1 AND instance = $2 AND id <= (
		SELECT id FROM {schema}.wait_inbox WHERE event = $1 AND instance = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)`),
		ev.Event, ev.Instance, store.InboxMaxEvents)
	return err
}

// SettleWaits applies settlements in one transaction; see store.Waits.
func (s *Store) SettleWaits(ctx context.Context, settlements []store.Settlement, at time.Time) ([]store.Settled, error) {
	if err := store.ValidateSettlements(settlements, at); err != nil {
		return nil, fmt.Errorf("settle waits: %w", err)
	}
	var out []store.Settled
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = store.ApplySettlements(settlements,
			func(d *store.EventDelivery) (store.Settled, error) { return s.deliver(ctx, tx, d, at) },
			func(key store.StepKey, output json.RawMessage) (bool, bool, error) {
				return s.resolveWait(ctx, tx, key, output, at)
			})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("settle waits: %w", err)
	}
	return out, nil
}

// deliver offers an event to the pending waits for it in tx: the waits
// d.Settle accepts end with its output, the others are returned as
// candidates, and an event that meets no pending wait is kept in the inbox.
func (s *Store) deliver(ctx context.Context, tx pgx.Tx, d *store.EventDelivery, at time.Time) (store.Settled, error) {
	var res store.Settled
	if len(d.Keys) == 0 {
		return res, nil
	}
	rows, err := tx.Query(ctx, s.sql(`SELECT `+waitColumns+` FROM {schema}.waits
		WHERE state = 'pending' AND event <> '' AND event = $1 AND instance = $2 AND match_key = ANY($3)`), d.Event, d.Instance, d.Keys)
	if err != nil {
		return res, err
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Wait, error) { return scanWait(r) })
	if err != nil {
		return res, err
	}
	if len(cands) == 0 {
		res.Kept = true
		return res, s.addInbox(ctx, tx, store.InboxEvent{Event: d.Event, Instance: d.Instance, Data: d.Data, ReceivedAt: at})
	}
	return store.SettleCandidates(d, cands, func(key store.StepKey) (bool, bool, error) {
		return s.resolveWait(ctx, tx, key, d.Output, at)
	})
}

// InboxEvents returns the kept events of a type and instance since since.
func (s *Store) InboxEvents(ctx context.Context, event, instance string, since time.Time) ([]store.InboxEvent, error) {
	rows, err := s.query(ctx, `SELECT event, instance, data_json, received_at FROM {schema}.wait_inbox
		WHERE event = $1 AND instance = $2 AND received_at >= $3 ORDER BY id`, event, instance, encodeTime(since))
	if err != nil {
		return nil, fmt.Errorf("inbox events: %w", err)
	}
	defer rows.Close()
	var out []store.InboxEvent
	for rows.Next() {
		var (
			ev   store.InboxEvent
			data []byte
			at   pgtype.Timestamptz
		)
		if err := rows.Scan(&ev.Event, &ev.Instance, &data, &at); err != nil {
			return nil, fmt.Errorf("inbox events: %w", err)
		}
		ev.Data, ev.ReceivedAt = decodeJSON(data), decodeTime(at)
		out = append(out, ev)
	}
	return out, classify(rows.Err())
}

// UseSignalToken records a signal link's single use.
func (s *Store) UseSignalToken(ctx context.Context, token, runID string, at time.Time) (bool, error) {
	tag, err := s.exec(ctx, `INSERT INTO {schema}.signal_tokens_used (token, run_id, used_at) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO NOTHING`, token, runID, encodeTime(at))
	if err != nil {
		return false, fmt.Errorf("use signal token: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
