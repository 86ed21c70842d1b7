package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// deliveriesRunFK is the foreign key of deliveries on runs.
const deliveriesRunFK = "deliveries_run_fk"

// IndexMessage binds a sent message to the step that sent it; binding it
// again to the same step changes nothing.
func (s *Store) IndexMessage(ctx context.Context, d store.Delivery) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("index message: %w", err)
	}
	if err := s.indexMessageOn(ctx, s, d); err != nil {
		return fmt.Errorf("index message %s of %s: %w", d.MessageID, d.Provider, err)
	}
	return nil
}

// indexMessageOn indexes a message through q: the pool, or a transaction.
func (s *Store) indexMessageOn(ctx context.Context, q querier, d store.Delivery) error {
	_, err := q.exec(ctx, indexMessage, indexMessageArgs(d)...)
	return indexMessageErr(d, err)
}

// indexMessage binds a message to its step, unless it is bound there.
const indexMessage = `INSERT INTO {schema}.deliveries AS d (provider, message_id, event, run_id, step_id, item)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (provider, message_id) DO UPDATE SET
		event = excluded.event, run_id = excluded.run_id, step_id = excluded.step_id, item = excluded.item,
		status = '', at = NULL, event_json = NULL
	WHERE NOT (d.run_id = excluded.run_id AND d.step_id = excluded.step_id AND d.item = excluded.item)`

// indexMessageArgs are the arguments of indexMessage.
func indexMessageArgs(d store.Delivery) []any {
	return []any{d.Provider, d.MessageID, d.Event, d.RunID, d.StepID, d.Item}
}

// indexMessageErr explains an error of indexMessage.
func indexMessageErr(d store.Delivery, err error) error {
	if violates(err, codeForeignKey, deliveriesRunFK) {
		err = fmt.Errorf("run %s: %w", d.RunID, store.ErrNotFound)
	}
	return err
}

// RecordReceipt raises the recorded status of an indexed message, never
// lowering it; the row is locked while it is read and written.
func (s *Store) RecordReceipt(ctx context.Context, provider, messageID, eventType string, r store.Receipt) (store.Delivery, bool, error) {
	if err := r.Validate(); err != nil {
		return store.Delivery{}, false, fmt.Errorf("record receipt: %w", err)
	}
	var (
		d       store.Delivery
		changed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = false
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx, s.sql(`SELECT `+deliveryColumns+` FROM {schema}.deliveries
			WHERE provider = $1 AND message_id = $2 FOR UPDATE`), provider, messageID))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && d.Event != eventType) {
			return fmt.Errorf("message %s of %s: %w", messageID, provider, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if store.DeliveryRank(r.Status) <= store.DeliveryRank(d.Status) {
			return nil
		}
		if _, err := tx.Exec(ctx, s.sql(`UPDATE {schema}.deliveries SET status = $1, at = $2, event_json = $3
			WHERE provider = $4 AND message_id = $5`), r.Status, encodeTime(r.At), encodeJSON(r.Data), provider, messageID); err != nil {
			return err
		}
		d.Receipt = store.Receipt{Status: r.Status, At: normTime(r.At).UTC(), Data: r.Data}
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
	rows, err := s.query(ctx, `SELECT `+deliveryColumns+` FROM {schema}.deliveries
		WHERE run_id = $1 ORDER BY step_id COLLATE "C", item, message_id COLLATE "C"`, runID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("deliveries of run %s: %w", runID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deliveries of run %s: %w", runID, classify(err))
	}
	return out, nil
}

// deliveryColumns are the columns scanDelivery reads, in order.
const deliveryColumns = `provider, message_id, event, run_id, step_id, item, status, at, event_json`

func scanDelivery(row pgx.Row) (store.Delivery, error) {
	var (
		d  store.Delivery
		at pgtype.Timestamptz
		ev []byte
	)
	if err := row.Scan(&d.Provider, &d.MessageID, &d.Event, &d.RunID, &d.StepID, &d.Item, &d.Status, &at, &ev); err != nil {
		return d, err
	}
	d.At = decodeTime(at)
	d.Data = decodeJSON(ev)
	return d, nil
}
