package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// timeLayout is how times are stored: fixed width, UTC, microseconds, so
// string order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// normTime returns t in UTC with the precision the store keeps.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// encodeTime returns t as stored, or NULL for the zero time.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return normTime(t).Format(timeLayout)
}

// decodeTime parses a stored time; NULL is the zero time.
func decodeTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode stored time %q: %w", s.String, err)
	}
	return t, nil
}

// encodeJSON returns b as stored, or NULL when it is empty.
func encodeJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// decodeJSON returns a stored JSON value; NULL is nil.
func decodeJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// errorColumns returns e as the error_class, error_message and error_field
// columns, all NULL when e is nil.
func errorColumns(e *store.StepError) (class, message, field any) {
	if e == nil {
		return nil, nil, nil
	}
	return e.Class, e.Message, e.Field
}

// errorScan receives the three error columns of a row.
type errorScan struct {
	class, message, field sql.NullString
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
