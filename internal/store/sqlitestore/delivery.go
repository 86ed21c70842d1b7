package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

// IndexMessage binds a sent message to the step that sent it; binding it
// again to the same step changes nothing.
func (s *Store) IndexMessage(ctx context.Context, d store.Delivery) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("index message: %w", err)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		return indexMessage(ctx, tx, d)
	})
	if err != nil {
		return fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, err)
	}
	return nil
}

// indexMessage binds the message of d to its step, in the caller's
// transaction. A message is kept in one of two places (migration 0011): in
// its step record's row (the msg_ columns), which costs the send no row and
// no index of its own beyond step_records_message, or in deliveries, for a
// message that cannot go there: its step has no record yet, the record
// holds another message, or the message is bound elsewhere already. So
// the message goes to the record's row when it is free (one statement, as
// the deliveries row was); otherwise a message bound to the same step stays
// as it is, and one bound to another record leaves that row for a
// deliveries row, which moves as before.
func indexMessage(ctx context.Context, tx *wtx, d store.Delivery) error {
	res, err := tx.ExecContext(ctx, `UPDATE step_records SET msg_provider = ?1, msg_id = ?2, msg_event = ?3,
			msg_status = '', msg_at = NULL, msg_event_json = NULL
		WHERE run_id = ?4 AND step_id = ?5 AND item = ?6 AND msg_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE provider = ?1 AND message_id = ?2)
			AND NOT EXISTS (SELECT 1 FROM step_records WHERE msg_provider = ?1 AND msg_id = ?2)`,
		d.Provider, d.MessageID, d.Event, d.RunID, d.StepID, d.Item)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return indexMessageApart(ctx, tx, d)
}

// indexMessageApart binds the message of d to its step in deliveries: it
// takes the message from the step record's row that holds it, unless that
// record is d's step (binding it again changes nothing), then upserts the
// deliveries row, which a message bound to another step moves with no
// status.
func indexMessageApart(ctx context.Context, tx *wtx, d store.Delivery) error {
	var (
		seq  int64
		held store.StepKey
	)
	err := tx.QueryRowContext(ctx, `SELECT seq, run_id, step_id, item FROM step_records
		WHERE msg_provider = ? AND msg_id = ?`, d.Provider, d.MessageID).Scan(&seq, &held.RunID, &held.StepID, &held.Item)
	switch {
	case err == nil && held == d.StepKey:
		return nil
	case err == nil:
		if _, err := tx.ExecContext(ctx, `UPDATE step_records SET msg_provider = NULL, msg_id = NULL, msg_event = NULL,
			msg_status = '', msg_at = NULL, msg_event_json = NULL WHERE seq = ?`, seq); err != nil {
			return err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, message_id) DO UPDATE SET
			event = excluded.event, run_id = excluded.run_id, step_id = excluded.step_id, item = excluded.item,
			status = '', at = NULL, event_json = NULL
		WHERE NOT (run_id = excluded.run_id AND step_id = excluded.step_id AND item = excluded.item)`,
		d.Provider, d.MessageID, d.Event, d.RunID, d.StepID, d.Item)
	if err != nil {
		return missingRun(ctx, tx, d.RunID, err)
	}
	return nil
}

// RecordReceipt raises the recorded status of an indexed message, never
// lowering it.
func (s *Store) RecordReceipt(ctx context.Context, provider, messageID, eventType string, r store.Receipt) (store.Delivery, bool, error) {
	if err := r.Validate(); err != nil {
		return store.Delivery{}, false, fmt.Errorf("record receipt: %w", err)
	}
	var (
		d       store.Delivery
		changed bool
	)
	err := s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
		changed = false
		// The message is in its step record's row, or else in deliveries
		// (see indexMessage).
		var seq int64
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+recordMessageColumns+`, seq FROM step_records
			WHERE msg_provider = ? AND msg_id = ?`, provider, messageID), &seq)
		update := `UPDATE step_records SET msg_status = ?, msg_at = ?, msg_event_json = ? WHERE seq = ?`
		args := []any{seq}
		if errors.Is(err, sql.ErrNoRows) {
			d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
				WHERE provider = ? AND message_id = ?`, provider, messageID))
			update = `UPDATE deliveries SET status = ?, at = ?, event_json = ? WHERE provider = ? AND message_id = ?`
			args = []any{provider, messageID}
		}
		if errors.Is(err, sql.ErrNoRows) || (err == nil && d.Event != eventType) {
			return fmt.Errorf("message %s of %s: %w", messageID, provider, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if store.DeliveryRank(r.Status) <= store.DeliveryRank(d.Status) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, update,
			append([]any{r.Status, encodeTime(r.At), encodeJSON(r.Data)}, args...)...); err != nil {
			return err
		}
		d.Receipt = store.Receipt{Status: r.Status, At: normTime(r.At), Data: r.Data}
		changed = true
		return nil
	})
	if err != nil {
		return store.Delivery{}, false, fmt.Errorf("record receipt: %w", err)
	}
	return d, changed, nil
}

// RunDeliveries returns the deliveries of a run's steps.
func (s *Store) RunDeliveries(ctx context.Context, runID string) ([]store.Delivery, error) {
	out := []store.Delivery{}
	err := s.read.inTx(ctx, func(tx *readTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE run_id = ?1
			UNION ALL
			SELECT `+recordMessageColumns+` FROM step_records WHERE run_id = ?1 AND msg_id IS NOT NULL
			ORDER BY step_id, item, message_id`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of run %s: %w", runID, err)
	}
	return out, nil
}

// deliveryColumns are the columns scanDelivery reads, in order.
const deliveryColumns = `provider, message_id, event, run_id, step_id, item, status, at, event_json`

// recordMessageColumns are the columns of deliveryColumns in a step
// record's row, which holds its message (migration 0011).
const recordMessageColumns = `msg_provider, msg_id, msg_event, run_id, step_id, item, msg_status, msg_at, msg_event_json`

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanDelivery reads one row of deliveryColumns (or recordMessageColumns),
// then into more, when given, the row's further columns.
func scanDelivery(row rowScanner, more ...any) (store.Delivery, error) {
	var (
		d      store.Delivery
		at, ev sql.NullString
	)
	if err := row.Scan(append([]any{&d.Provider, &d.MessageID, &d.Event, &d.RunID, &d.StepID, &d.Item, &d.Status, &at, &ev},
		more...)...); err != nil {
		return d, err
	}
	var err error
	if d.At, err = decodeTime(at); err != nil {
		return d, err
	}
	d.Data = decodeJSON(ev)
	return d, nil
}
