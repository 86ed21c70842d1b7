package pgstore

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store"
)

// normTime returns t in UTC with the precision the store keeps. It truncates,
// as the SQLite store does, where PostgreSQL would round.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// encodeTime returns t as a timestamptz parameter, or NULL for the zero time.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return normTime(t)
}

// timestamptz returns t as an element of a timestamptz array parameter,
// NULL for the zero time.
func timestamptz(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: normTime(t), Valid: true}
}

// decodeTime returns a stored time in UTC; NULL is the zero time.
func decodeTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// encodeJSON returns b as a jsonb parameter, or NULL when it is empty.
func encodeJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullJSON returns b as an element of a jsonb array parameter, NULL when
// it is empty.
func nullJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// decodeJSON returns a stored JSON value; NULL is nil.
func decodeJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// errorColumns returns e as the error_class, error_message and error_field
// parameters, all NULL when e is nil.
func errorColumns(e *store.StepError) (class, message, field any) {
	if e == nil {
		return nil, nil, nil
	}
	return e.Class, e.Message, e.Field
}

// errorScan receives the three error columns of a row.
type errorScan struct {
	class, message, field pgtype.Text
}

// dests returns the scan destinations for the error columns.
func (e *errorScan) dests() []any {
	return []any{&e.class, &e.message, &e.field}
}

// value returns the scanned error, nil when error_class was NULL.
func (e *errorScan) value() *store.StepError {
	if !e.class.Valid {
		return nil
	}
	return &store.StepError{Class: e.class.String, Message: e.message.String, Field: e.field.String}
}
