package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/jsonenc"
)

// Trigger kinds, as trigger.kind reads them.
const (
	KindManual  = "manual"
	KindCron    = "cron"
	KindWebhook = "webhook"
	KindEvent   = "event"
)

// Trigger is what started a run. It is stored with the run as JSON and
// becomes trigger in expressions.
type Trigger struct {
	Kind          string    `json:"kind"`
	Time          time.Time `json:"time"`
	ScheduledTime time.Time `json:"scheduled_time,omitzero"`
	// Catchup marks a cron fire that was missed while no host ran and is
	// run late under the trigger's catchup policy.
	Catchup bool              `json:"catchup,omitempty"`
	Body    any               `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
	Event   any               `json:"event,omitempty"`
	// EventType and Provider name the provider event of an event trigger.
	EventType string `json:"event_type,omitempty"`
	Provider  string `json:"provider,omitempty"`

	// TraceContext is the W3C trace context (traceparent, tracestate) of
	// what started the run, such as the webhook request's span: every
	// execution of the run continues that trace. Create fills it from its
	// context.
	TraceContext map[string]string `json:"trace_context,omitempty"`

	// RequestFingerprint identifies the request that asked for the run,
	// for its idempotency key (see store.Run.RequestFingerprint). It is
	// not part of the trigger's data and is not stored with it.
	RequestFingerprint string `json:"-"`

	// NoWaiter tells that the request that asked for the run will not wait
	// for its run object (a webhook answered 202 at admission): a run
	// started eagerly (NewAdmission) then does not keep what it writes in
	// memory, and its RunFinished event carries no Run, so whoever waits
	// for it after all reads it from the store. Not stored.
	NoWaiter bool `json:"-"`
}

func (t Trigger) data() expr.TriggerData {
	return expr.TriggerData{
		Kind:          t.Kind,
		Time:          t.Time,
		ScheduledTime: t.ScheduledTime,
		Body:          t.Body,
		Headers:       t.Headers,
		Query:         t.Query,
		Event:         t.Event,
	}
}

// asDecoded returns the trigger DecodeTrigger returns for t's JSON encoding,
// without encoding or decoding it: t's own values, when they are already as
// decoding makes them — times in UTC, strings of valid UTF-8, numbers as
// int64 or as float64 outside int64's integers (an integral float64 in
// int64's range is encoded as an integer and decoded as an int64), non-nil
// maps of string keys and lists.
// ok is false for any other value; the trigger is decoded then. The values
// are shared, not copied.
func (t Trigger) asDecoded() (_ Trigger, ok bool) {
	if !utcTime(t.Time) || !utcTime(t.ScheduledTime) ||
		!utf8.ValidString(t.Kind) || !utf8.ValidString(t.EventType) || !utf8.ValidString(t.Provider) ||
		!decodedValue(t.Body) || !decodedValue(t.Event) ||
		!decodedStrings(t.Headers) || !decodedStrings(t.Query) || !decodedStrings(t.TraceContext) {
		return Trigger{}, false
	}
	d := t
	// Not encoded: see Trigger.
	d.RequestFingerprint, d.NoWaiter = "", false
	// Empty maps are left out of the encoding: decoded, they are nil.
	d.Headers, d.Query, d.TraceContext = nilIfEmpty(t.Headers), nilIfEmpty(t.Query), nilIfEmpty(t.TraceContext)
	return d, true
}

// utcTime reports whether t is as decoding its RFC 3339 form gives: zero,
// or in UTC without a monotonic clock reading, within the years JSON
// encodes.
func utcTime(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return t.Location() == time.UTC && t == t.Round(0) && t.Year() >= 0 && t.Year() <= 9999
}

// decodedValue reports whether v is as decodeValue makes a JSON value.
func decodedValue(v any) bool {
	switch x := v.(type) {
	case nil, bool, int64:
		return true
	case float64:
		// An integral value in int64's range is encoded as an integer
		// and decoded as an int64; NaN and the infinities do not encode.
		return !math.IsNaN(x) && !math.IsInf(x, 0) && (x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64)
	case string:
		return utf8.ValidString(x)
	case map[string]any:
		if x == nil {
			return false
		}
		for k, e := range x {
			if !utf8.ValidString(k) || !decodedValue(e) {
				return false
			}
		}
		return true
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !decodedValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// decodedStrings reports whether m's keys and values are valid UTF-8.
func decodedStrings(m map[string]string) bool {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// encodeTrigger returns json.Marshal(t), encoded without reflection when
// t's values are plain (see jsonenc.AppendValue).
func encodeTrigger(t Trigger) ([]byte, error) {
	buf := jsonenc.Buffer()
	defer jsonenc.Release(buf)
	b, ok := appendTrigger(*buf, &t)
	if !ok {
		return json.Marshal(t)
	}
	*buf = b
	return jsonenc.Copy(b), nil
}

// appendTrigger appends t's encoding as json.Marshal gives it, fields in
// the order Trigger declares them, and reports true; or reports false when
// a value is not one jsonenc encodes.
func appendTrigger(b []byte, t *Trigger) ([]byte, bool) {
	ok := true
	b = append(b, `{"kind":`...)
	b = jsonenc.AppendString(b, t.Kind)
	b = append(b, `,"time":`...)
	b, ok = jsonenc.AppendTime(b, t.Time)
	if !ok {
		return b, false
	}
	if !t.ScheduledTime.IsZero() {
		b = append(b, `,"scheduled_time":`...)
		if b, ok = jsonenc.AppendTime(b, t.ScheduledTime); !ok {
			return b, false
		}
	}
	if t.Catchup {
		b = append(b, `,"catchup":true`...)
	}
	if t.Body != nil {
		b = append(b, `,"body":`...)
		if b, ok = jsonenc.AppendValue(b, t.Body); !ok {
			return b, false
		}
	}
	if len(t.Headers) > 0 {
		b = append(b, `,"headers":`...)
		b = jsonenc.AppendStringMap(b, t.Headers)
	}
	if len(t.Query) > 0 {
		b = append(b, `,"query":`...)
		b = jsonenc.AppendStringMap(b, t.Query)
	}
	if t.Event != nil {
		b = append(b, `,"event":`...)
		if b, ok = jsonenc.AppendValue(b, t.Event); !ok {
			return b, false
		}
	}
	if t.EventType != "" {
		b = append(b, `,"event_type":`...)
		b = jsonenc.AppendString(b, t.EventType)
	}
	if t.Provider != "" {
		b = append(b, `,"provider":`...)
		b = jsonenc.AppendString(b, t.Provider)
	}
	if len(t.TraceContext) > 0 {
		b = append(b, `,"trace_context":`...)
		b = jsonenc.AppendStringMap(b, t.TraceContext)
	}
	return append(b, '}'), true
}

// DecodeTrigger decodes a run's stored trigger.
func DecodeTrigger(raw json.RawMessage) (Trigger, error) {
	var t Trigger
	if len(raw) == 0 {
		return Trigger{Kind: KindManual}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("decode trigger: %w", err)
	}
	t.Body = plainJSON(t.Body)
	t.Event = plainJSON(t.Event)
	return t, nil
}

// decodeValue decodes JSON into the plain values expressions read: integers
// as int64, other numbers as float64.
func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return plainJSON(v), nil
}

// plainJSON turns json.Number values into int64 or float64, recursively.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = plainJSON(val)
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = plainJSON(val)
		}
		return x
	default:
		return v
	}
}

// DecodeJSON decodes a JSON document into the plain values expressions
// read, as trigger bodies and step outputs are decoded. A document nested
// deeper than MaxJSONDepth is a *JSONDepthError.
func DecodeJSON(data []byte) (any, error) {
	if v, ok := DecodeJSONDirect(data); ok {
		return v, nil
	}
	if err := CheckJSONDepth(data); err != nil {
		return nil, err
	}
	return decodeValue(data)
}
