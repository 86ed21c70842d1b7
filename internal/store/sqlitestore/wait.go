package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/jsonvalid"
	"github.com/heraldhq/herald/internal/store"
)

var _ store.Waits = (*Store)(nil)

// waitColumns are the columns scanWait reads, in order.
const waitColumns = `run_id, step_id, item, deadline, event, instance, match_key, signal, state, output_json, created_at, resolved_at`

func scanWait(row scanner) (store.Wait, error) {
	var (
		w                           store.Wait
		state                       string
		output                      sql.NullString
		deadline, created, resolved sql.NullString
	)
	if err := row.Scan(&w.RunID, &w.StepID, &w.Item, &deadline, &w.Event, &w.Instance, &w.MatchKey, &w.Signal, &state, &output, &created, &resolved); err != nil {
		return store.Wait{}, err
	}
	w.Resolved = state == "resolved"
	w.Output = decodeJSON(output)
	var err error
	if w.Deadline, err = decodeTime(deadline); err != nil {
		return w, err
	}
	if w.CreatedAt, err = decodeTime(created); err != nil {
		return w, err
	}
	w.ResolvedAt, err = decodeTime(resolved)
	return w, err
}

// CreateWait stores w unless its key has a wait; see store.Waits.
func (s *Store) CreateWait(ctx context.Context, w store.Wait) (store.Wait, error) {
	if err := w.Validate(); err != nil {
		return store.Wait{}, fmt.Errorf("create wait: %w", err)
	}
	var stored store.Wait
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO waits (run_id, step_id, item, deadline, event, instance, match_key, signal, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, step_id, item) DO NOTHING`,
			w.RunID, w.StepID, w.Item, encodeTime(w.Deadline), w.Event, w.Instance, w.MatchKey, w.Signal, encodeTime(w.CreatedAt))
		if err != nil {
			return missingRun(ctx, tx, w.RunID, err)
		}
		stored, err = scanWait(tx.QueryRowContext(ctx, `SELECT `+waitColumns+` FROM waits WHERE run_id = ? AND step_id = ? AND item = ?`,
			w.RunID, w.StepID, w.Item))
		return err
	})
	if err != nil {
		return store.Wait{}, fmt.Errorf("create wait %s: %w", keyName(w.StepKey), err)
	}
	return stored, nil
}

// GetWait returns the wait of key.
func (s *Store) GetWait(ctx context.Context, key store.StepKey) (store.Wait, error) {
	w, err := scanWait(s.read.QueryRowContext(ctx, `SELECT `+waitColumns+` FROM waits WHERE run_id = ? AND step_id = ? AND item = ?`,
		key.RunID, key.StepID, key.Item))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Wait{}, fmt.Errorf("wait %s: %w", keyName(key), store.ErrNotFound)
	}
	if err != nil {
		return store.Wait{}, fmt.Errorf("wait %s: %w", keyName(key), classify(err))
	}
	return w, nil
}

// ParkRun moves a running run with a pending wait to waiting.
func (s *Store) ParkRun(ctx context.Context, runID, owner, reason string) (bool, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'waiting', reason = ?, owner = '', version = version + 1
			WHERE id = ? AND status = 'running' AND owner = ?
			AND EXISTS (SELECT 1 FROM waits WHERE run_id = ? AND state = 'pending')`, reason, runID, owner, runID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	s.runs.Drop(runID)
	if err != nil {
		return false, fmt.Errorf("park run %s: %w", runID, err)
	}
	return n == 1, nil
}

// ResolveWait settles a pending wait and requeues its waiting run.
func (s *Store) ResolveWait(ctx context.Context, key store.StepKey, output json.RawMessage, at time.Time) (resolved, requeued bool, err error) {
	if len(output) > 0 && !jsonvalid.Valid(output) {
		return false, false, fmt.Errorf("resolve wait: %w: output is not valid JSON", store.ErrInvalid)
	}
	err = s.withTx(ctx, func(ctx context.Context, tx *wtx) (err error) {
		resolved, requeued, err = resolveWait(ctx, tx, key, output, at)
		return err
	})
	s.runs.Drop(key.RunID)
	if err != nil {
		return false, false, fmt.Errorf("resolve wait %s: %w", keyName(key), err)
	}
	return resolved, requeued, nil
}

// resolveWait settles the pending wait of key in tx and requeues its run
// when it waits; see store.Waits.ResolveWait.
func resolveWait(ctx context.Context, tx *wtx, key store.StepKey, output json.RawMessage, at time.Time) (resolved, requeued bool, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE waits SET state = 'resolved', output_json = ?, resolved_at = ?
		WHERE run_id = ? AND step_id = ? AND item = ? AND state = 'pending'`,
		encodeJSON(output), encodeTime(at), key.RunID, key.StepID, key.Item)
	if err != nil {
		return false, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, false, err
	}
	res, err = tx.ExecContext(ctx, `UPDATE runs SET status = 'queued', reason = '', owner = '', version = version + 1
		WHERE id = ? AND status = 'waiting'`, key.RunID)
	if err != nil {
		return true, false, err
	}
	n, err := res.RowsAffected()
	return true, n == 1, err
}

// KeepSignal keeps a signal for a step that waits for it later.
func (s *Store) KeepSignal(ctx context.Context, runID, signal string, output json.RawMessage, at time.Time) error {
	if signal == "" || !jsonvalid.Valid(output) || at.IsZero() {
		return fmt.Errorf("keep signal: %w: a signal name, a JSON output and a time are required", store.ErrInvalid)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signal_inbox WHERE run_id = ?`, runID).Scan(&n); err != nil {
			return err
		}
		if n >= store.SignalInboxMax {
			return fmt.Errorf("%w: run %s keeps %d signals already", store.ErrInboxFull, runID, n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signal_inbox (run_id, signal, output_json, received_at) VALUES (?, ?, ?, ?)`,
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
	err = s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		resolved, requeued = false, false
		var (
			id     int64
			output sql.NullString
		)
		err := tx.QueryRowContext(ctx, `SELECT id, output_json FROM signal_inbox WHERE run_id = ? AND signal = ? ORDER BY id LIMIT 1`,
			key.RunID, signal).Scan(&id, &output)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if resolved, requeued, err = resolveWait(ctx, tx, key, decodeJSON(output), at); err != nil || !resolved {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM signal_inbox WHERE id = ?`, id)
		return err
	})
	s.runs.Drop(key.RunID)
	if err != nil {
		return false, false, fmt.Errorf("take signal %q for %s: %w", signal, keyName(key), err)
	}
	return resolved, requeued, nil
}

// EventWaits returns the pending waits for event from instance.
func (s *Store) EventWaits(ctx context.Context, event, instance string, keys []string) ([]store.Wait, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	args := []any{event, instance}
	marks := strings.Repeat("?, ", len(keys)-1) + "?"
	for _, k := range keys {
		args = append(args, k)
	}
	return s.waits(ctx, `WHERE state = 'pending' AND event <> '' AND event = ? AND instance = ? AND match_key IN (`+marks+`)`, args...)
}

// SignalWaits returns the run's pending waits for signal.
func (s *Store) SignalWaits(ctx context.Context, runID, signal string) ([]store.Wait, error) {
	return s.waits(ctx, `WHERE state = 'pending' AND signal <> '' AND run_id = ? AND signal = ?`, runID, signal)
}

// PendingWaits returns every pending wait, soonest first.
func (s *Store) PendingWaits(ctx context.Context) ([]store.Wait, error) {
	return s.waits(ctx, `WHERE state = 'pending' ORDER BY deadline`)
}

func (s *Store) waits(ctx context.Context, where string, args ...any) ([]store.Wait, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+waitColumns+` FROM waits `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("waits: %w", classify(err))
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
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		return addInbox(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("add inbox event: %w", err)
	}
	return nil
}

// addInbox keeps ev in tx and, every store.InboxTrimEvery events, trims
// the inbox of its type and instance.
func addInbox(ctx context.Context, tx *wtx, ev store.InboxEvent) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO wait_inbox (event, instance, data_json, received_at) VALUES (?, ?, ?, ?)`,
		ev.Event, ev.Instance, encodeJSON(ev.Data), encodeTime(ev.ReceivedAt))
	if err != nil {
		return err
	}
	if id, err := res.LastInsertId(); err != nil || id%store.InboxTrimEvery != 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM wait_inbox WHERE event = ? AND instance = ? AND received_at < ?`,
		ev.Event, ev.Instance, encodeTime(ev.ReceivedAt.Add(-store.InboxMaxAge))); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM wait_inbox WHERE event = ?1 AND instance = ?2 AND id <= (
		SELECT id FROM wait_inbox WHERE event = ?1 AND instance = ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3)`,
		ev.Event, ev.Instance, store.InboxMaxEvents)
	return err
}

// SettleWaits applies settlements in one write; see store.Waits.
func (s *Store) SettleWaits(ctx context.Context, settlements []store.Settlement, at time.Time) ([]store.Settled, error) {
	if err := store.ValidateSettlements(settlements, at); err != nil {
		return nil, fmt.Errorf("settle waits: %w", err)
	}
	var out []store.Settled
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		// The writer may run this again in a fresh transaction: out starts over.
		var err error
		out, err = store.ApplySettlements(settlements,
			func(d *store.EventDelivery) (store.Settled, error) { return deliver(ctx, tx, d, at) },
			func(key store.StepKey, output json.RawMessage) (bool, bool, error) {
				return resolveWait(ctx, tx, key, output, at)
			})
		return err
	})
	for i, st := range settlements {
		if st.Delivery == nil {
			s.runs.Drop(st.Key.RunID)
		} else if err == nil {
			for _, e := range out[i].Ended {
				s.runs.Drop(e.Key.RunID)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("settle waits: %w", err)
	}
	return out, nil
}

// GroupsCommits reports that the writes of concurrent callers share
// commits: the writer applies every write queued, and those queued while
// it does, in one transaction.
func (s *Store) GroupsCommits() bool { return true }

// deliver offers an event to the pending waits for it in tx: the waits
// d.Settle accepts end with its output, the others are returned as
// candidates, and an event that meets no pending wait is kept in the inbox.
func deliver(ctx context.Context, tx *wtx, d *store.EventDelivery, at time.Time) (store.Settled, error) {
	var res store.Settled
	if len(d.Keys) == 0 {
		return res, nil
	}
	args := []any{d.Event, d.Instance}
	for _, k := range d.Keys {
		args = append(args, k)
	}
	cands, err := txWaits(ctx, tx, `WHERE state = 'pending' AND event <> '' AND event = ? AND instance = ? AND match_key IN (`+
		strings.Repeat("?, ", len(d.Keys)-1)+`?)`, args...)
	if err != nil {
		return res, err
	}
	if len(cands) == 0 {
		res.Kept = true
		return res, addInbox(ctx, tx, store.InboxEvent{Event: d.Event, Instance: d.Instance, Data: d.Data, ReceivedAt: at})
	}
	return store.SettleCandidates(d, cands, func(key store.StepKey) (bool, bool, error) {
		return resolveWait(ctx, tx, key, d.Output, at)
	})
}

// txWaits reads waits on the write connection, inside tx, and closes its
// rows before returning, so the caller may write next.
func txWaits(ctx context.Context, tx *wtx, where string, args ...any) ([]store.Wait, error) {
	st, err := tx.w.stmt(ctx, `SELECT `+waitColumns+` FROM waits `+where)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Wait
	for rows.Next() {
		w, err := scanWait(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// InboxEvents returns the kept events of a type and instance since since.
func (s *Store) InboxEvents(ctx context.Context, event, instance string, since time.Time) ([]store.InboxEvent, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT event, instance, data_json, received_at FROM wait_inbox
		WHERE event = ? AND instance = ? AND received_at >= ? ORDER BY id`, event, instance, encodeTime(since))
	if err != nil {
		return nil, fmt.Errorf("inbox events: %w", classify(err))
	}
	defer rows.Close()
	var out []store.InboxEvent
	for rows.Next() {
		var (
			ev       store.InboxEvent
			data, at sql.NullString
		)
		if err := rows.Scan(&ev.Event, &ev.Instance, &data, &at); err != nil {
			return nil, fmt.Errorf("inbox events: %w", err)
		}
		ev.Data = decodeJSON(data)
		if ev.ReceivedAt, err = decodeTime(at); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// UseSignalToken records a signal link's single use.
func (s *Store) UseSignalToken(ctx context.Context, token, runID string, at time.Time) (bool, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO signal_tokens_used (token, run_id, used_at) VALUES (?, ?, ?)
			ON CONFLICT (token) DO NOTHING`, token, runID, encodeTime(at))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("use signal token: %w", err)
	}
	return n == 1, nil
}
