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
	return formatTime(normTime(t))
}

// formatTime returns t, in UTC and truncated to microseconds, in
// timeLayout. It writes the fixed-width layout digit by digit, as
// time.Format would, without parsing the layout on every call (the writer
// encodes several times per run); a year outside 0–9999, which the layout
// does not hold at its width, goes through time.Format.
func formatTime(t time.Time) string {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, minute, sec := t.Clock()
	var b [len(timeLayout)]byte
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	b[4] = '-'
	put(5, 2, int(month))
	b[7] = '-'
	put(8, 2, day)
	b[10] = 'T'
	put(11, 2, hour)
	b[13] = ':'
	put(14, 2, minute)
	b[16] = ':'
	put(17, 2, sec)
	b[19] = '.'
	put(20, 6, t.Nanosecond()/1000)
	b[26] = 'Z'
	return string(b[:])
}

// timeMemo remembers the last few times encoded, with their encodings: a
// run's writes bind the same time several times (a run's creation is also
// its start, its heartbeat and its first attempt's start; its end is also
// its step's), and each encoding costs the writer a string and the
// interface that holds it. It is not safe for concurrent use.
type timeMemo struct {
	times [4]time.Time // normalised (normTime)
	enc   [4]any
	next  int // the slot the next new time takes
}

// time returns encodeTime(t), from the memo when t was encoded lately.
func (m *timeMemo) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	for i := range m.times {
		if m.times[i] == t && m.enc[i] != nil {
			return m.enc[i]
		}
	}
	v := any(formatTime(t))
	m.times[m.next], m.enc[m.next] = t, v
	m.next = (m.next + 1) % len(m.times)
	return v
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
