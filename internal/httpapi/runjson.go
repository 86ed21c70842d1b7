package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/jsonenc"
	"github.com/heraldhq/herald/internal/jsonvalid"
	"github.com/heraldhq/herald/internal/store"
)

// writeRunView writes v, a run object, as writeJSON writes it, encoded
// without reflection when appendRunView takes it.
func (a *api) writeRunView(w http.ResponseWriter, code int, v *engine.RunView) {
	buf := jsonenc.Buffer()
	defer jsonenc.Release(buf)
	b, ok := appendRunView(*buf, v)
	if !ok {
		a.writeJSON(w, code, v)
		return
	}
	b = append(b, '\n')
	*buf = b
	setJSONHeaders(w.Header())
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// appendRunView appends v's encoding as json.Marshal gives it and reports
// true, or reports false, having appended garbage, for a value it leaves
// to json.Marshal: a raw message that is not valid JSON, a time outside
// the years JSON encodes.
func appendRunView(b []byte, v *engine.RunView) ([]byte, bool) {
	ok := true
	b = append(b, `{"run_id":`...)
	b = jsonenc.AppendString(b, v.RunID)
	b = append(b, `,"workflow":`...)
	b = jsonenc.AppendString(b, v.Workflow)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, v.Status)
	b = append(b, `,"trigger":`...)
	if b, ok = appendRaw(b, v.Trigger); !ok {
		return b, false
	}
	b = append(b, `,"steps":`...)
	if v.Steps == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range v.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendStepView(b, &v.Steps[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"error":`, v.Error)
	b = appendOptString(b, `,"reason":`, v.Reason)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(v.Attempt), 10)
	b = appendOptString(b, `,"owner":`, v.Owner)
	b = append(b, `,"created_at":`...)
	if b, ok = jsonenc.AppendTime(b, v.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"started_at":`...)
	if b, ok = appendTimePtr(b, v.StartedAt); !ok {
		return b, false
	}
	b = append(b, `,"finished_at":`...)
	if b, ok = appendTimePtr(b, v.FinishedAt); !ok {
		return b, false
	}
	if len(v.Operations) > 0 {
		b = append(b, `,"operations":[`...)
		for i := range v.Operations {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendOperation(b, &v.Operations[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendStepView appends s's encoding as json.Marshal gives it.
func appendStepView(b []byte, s *engine.StepView) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = jsonenc.AppendString(b, s.ID)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, s.Status)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(s.Attempts), 10)
	b = appendOptString(b, `,"provider":`, s.Provider)
	b = append(b, `,"output":`...)
	if b, ok = appendRaw(b, s.Output); !ok {
		return b, false
	}
	// ErrorText encodes an empty text as null.
	b = append(b, `,"error":`...)
	if s.Error == "" {
		b = append(b, "null"...)
	} else {
		b = jsonenc.AppendString(b, string(s.Error))
	}
	b = appendOptString(b, `,"error_class":`, s.ErrorClass)
	b = appendOptString(b, `,"error_field":`, s.ErrorField)
	b = appendOptString(b, `,"reason":`, s.Reason)
	if len(s.History) > 0 {
		b = append(b, `,"history":[`...)
		for i := range s.History {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendAttemptView(b, &s.History[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if len(s.Items) > 0 {
		b = append(b, `,"items":[`...)
		for i := range s.Items {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendItemView(b, &s.Items[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if p := s.Progress; p != nil {
		b = append(b, `,"progress":{"done":`...)
		b = strconv.AppendInt(b, int64(p.Done), 10)
		b = append(b, `,"failed":`...)
		b = strconv.AppendInt(b, int64(p.Failed), 10)
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(p.Total), 10)
		if p.ETA != nil {
			b = append(b, `,"eta":`...)
			if b, ok = jsonenc.AppendTime(b, *p.ETA); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	if s.Delivery != nil {
		b = append(b, `,"delivery":`...)
		if b, ok = appendDeliveryView(b, s.Delivery); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendAttemptView appends a's encoding as json.Marshal gives it.
func appendAttemptView(b []byte, a *engine.AttemptView) ([]byte, bool) {
	ok := true
	b = append(b, `{"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	if a.Item != nil {
		b = append(b, `,"item":`...)
		b = strconv.AppendInt(b, int64(*a.Item), 10)
	}
	b = append(b, `,"provider":`...)
	b = jsonenc.AppendString(b, a.Provider)
	b = appendOptString(b, `,"action":`, a.Action)
	b = append(b, `,"started_at":`...)
	if b, ok = jsonenc.AppendTime(b, a.StartedAt); !ok {
		return b, false
	}
	b = append(b, `,"finished_at":`...)
	if b, ok = appendTimePtr(b, a.FinishedAt); !ok {
		return b, false
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, a.DurationMS, 10)
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, a.Outcome)
	b = appendOptString(b, `,"error":`, a.Error)
	if a.RetryAfterMS != 0 {
		b = append(b, `,"retry_after_ms":`...)
		b = strconv.AppendInt(b, a.RetryAfterMS, 10)
	}
	if len(a.Request) > 0 {
		b = append(b, `,"request":`...)
		if b, ok = appendRaw(b, a.Request); !ok {
			return b, false
		}
	}
	if len(a.Response) > 0 {
		b = append(b, `,"response":`...)
		if b, ok = appendRaw(b, a.Response); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendItemView appends it's encoding as json.Marshal gives it.
func appendItemView(b []byte, it *engine.ItemView) ([]byte, bool) {
	ok := true
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(it.Index), 10)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, it.Status)
	b = appendOptString(b, `,"provider":`, it.Provider)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(it.Attempts), 10)
	if len(it.Output) > 0 {
		b = append(b, `,"output":`...)
		if b, ok = appendRaw(b, it.Output); !ok {
			return b, false
		}
	}
	b = appendOptString(b, `,"error":`, it.Error)
	b = appendOptString(b, `,"reason":`, it.Reason)
	if it.Delivery != nil {
		b = append(b, `,"delivery":`...)
		if b, ok = appendDeliveryView(b, it.Delivery); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendDeliveryView appends d's encoding as json.Marshal gives it.
func appendDeliveryView(b []byte, d *engine.DeliveryView) ([]byte, bool) {
	ok := true
	b = append(b, `{"status":`...)
	b = jsonenc.AppendString(b, d.Status)
	b = append(b, `,"at":`...)
	if b, ok = jsonenc.AppendTime(b, d.At); !ok {
		return b, false
	}
	if len(d.Event) > 0 {
		b = append(b, `,"event":`...)
		if b, ok = appendRaw(b, d.Event); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendOperation appends o's encoding as json.Marshal gives it.
func appendOperation(b []byte, o *store.Operation) ([]byte, bool) {
	ok := true
	b = append(b, `{"at":`...)
	if b, ok = jsonenc.AppendTime(b, o.At); !ok {
		return b, false
	}
	b = append(b, `,"by":`...)
	b = jsonenc.AppendString(b, o.By)
	b = append(b, `,"action":`...)
	b = jsonenc.AppendString(b, o.Action)
	b = appendOptString(b, `,"detail":`, o.Detail)
	return append(b, '}'), true
}

// appendOptString appends the member key (with its leading comma) and s,
// unless s is empty: an omitempty string.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonenc.AppendString(append(b, key...), s)
}

// appendTimePtr appends t as json.Marshal encodes a *time.Time: null when
// nil.
func appendTimePtr(b []byte, t *time.Time) ([]byte, bool) {
	if t == nil {
		return append(b, "null"...), true
	}
	return jsonenc.AppendTime(b, *t)
}

// appendRaw appends raw as json.Marshal encodes a json.RawMessage: null
// when nil, else compacted, with <, > and & and the line and paragraph
// separators escaped as in strings. It reports false for a raw message
// that is not valid JSON, which json.Marshal refuses.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if raw == nil {
		return append(b, "null"...), true
	}
	if !jsonvalid.Valid(raw) {
		return b, false
	}
	// raw is valid: outside strings, whitespace is insignificant; inside,
	// a backslash escapes the next byte.
	start := 0
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 2
			start = i + 1
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b = append(b, raw[start:i]...)
			start = i + 1
		}
	}
	return append(b, raw[start:]...), true
}

const hexDigits = "0123456789abcdef"
