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
// transaction.
func indexMessage(ctx context.Context, tx *wtx, d store.Delivery) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (provider, message_id, event, run_id, step_id, item)
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
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
			WHERE provider = ? AND message_id = ?`, provider, messageID))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && d.Event != eventType) {
			return fmt.Errorf("message %s of %s: %w", messageID, provider, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if store.DeliveryRank(r.Status) <= store.DeliveryRank(d.Status) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, at = ?, event_json = ?
			WHERE provider = ? AND message_id = ?`, r.Status, encodeTime(r.At), encodeJSON(r.Data), provider, messageID); err != nil {
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
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
			WHERE run_id = ? ORDER BY step_id, item, message_id`, runID)
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

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanDelivery(row rowScanner) (store.Delivery, error) {
	var (
		d      store.Delivery
		at, ev sql.NullString
	)
	if err := row.Scan(&d.Provider, &d.MessageID, &d.Event, &d.RunID, &d.StepID, &d.Item, &d.Status, &at, &ev); err != nil {
		return d, err
	}
	var err error
	if d.At, err = decodeTime(at); err != nil {
		return d, err
	}
	d.Data = decodeJSON(ev)
	return d, nil
}
