package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/expr"
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
	if err := CheckJSONDepth(data); err != nil {
		return nil, err
	}
	return decodeValue(data)
}
