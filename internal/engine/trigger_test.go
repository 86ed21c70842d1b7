package engine

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTriggerAsDecodedIsWhatDecodingGives checks Trigger.asDecoded against
// the round trip it stands for: for every trigger it keeps, the result is
// what DecodeTrigger gives for its JSON encoding, value for value; the
// values decoding would change (an integral float64 becomes an int64, an
// invalid UTF-8 string is replaced, a local time or a typed nil map) are
// refused, so the execution decodes them.
func TestTriggerAsDecodedIsWhatDecodingGives(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.UTC)
	body := map[string]any{
		"vip": true, "n": int64(-42), "ratio": 0.25, "tiny": 1e-9, "huge": 1.5e300, "big": 1e20, "edge": float64(math.MaxInt64), "low": -1e19, "none": nil,
		"text": "disk <almost> full & \u2028 \x00 é", "list": []any{int64(1), "two", 3.5, []any{}, map[string]any{}},
		"nested": map[string]any{"a": map[string]any{"b": []any{false}}},
	}
	kept := []Trigger{
		{Kind: KindWebhook, Time: at, Body: body, Headers: map[string]string{"content-type": "application/json"}, Query: map[string]string{"page": "2"},
			TraceContext: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, RequestFingerprint: "sha256:x"},
		{Kind: KindWebhook, Time: at, Body: "plain text", Headers: map[string]string{}, Query: map[string]string{}},
		{Kind: KindCron, Time: at, ScheduledTime: at.Add(-time.Minute), Catchup: true},
		{Kind: KindEvent, Time: at, Event: map[string]any{"id": "e1"}, EventType: "message.received", Provider: "chat"},
		{Kind: KindManual, Time: at, Body: []any{}},
		{Kind: KindManual},
	}
	for i, trig := range kept {
		got, ok := trig.asDecoded()
		require.True(t, ok, "trigger %d", i)
		raw, err := json.Marshal(trig)
		require.NoError(t, err)
		want, err := DecodeTrigger(raw)
		require.NoError(t, err)
		require.Equal(t, want, got, "trigger %d", i)
	}

	local := time.FixedZone("CET", 3600)
	refused := map[string]Trigger{
		"an integral float":          {Kind: KindWebhook, Time: at, Body: map[string]any{"n": 1.0}},
		"negative zero":              {Kind: KindWebhook, Time: at, Body: []any{math.Copysign(0, -1)}},
		"an int":                     {Kind: KindWebhook, Time: at, Body: map[string]any{"n": 7}},
		"a json.Number":              {Kind: KindWebhook, Time: at, Body: json.Number("7")},
		"invalid UTF-8 in the body":  {Kind: KindWebhook, Time: at, Body: map[string]any{"text": "\xff"}},
		"invalid UTF-8 in a key":     {Kind: KindWebhook, Time: at, Body: map[string]any{"\xfe": "x"}},
		"invalid UTF-8 in a header":  {Kind: KindWebhook, Time: at, Headers: map[string]string{"x-a": "\xff"}},
		"invalid UTF-8 in the query": {Kind: KindWebhook, Time: at, Query: map[string]string{"\xff": "1"}},
		"a typed nil map":            {Kind: KindWebhook, Time: at, Body: map[string]any(nil)},
		"a typed nil list":           {Kind: KindWebhook, Time: at, Body: map[string]any{"l": []any(nil)}},
		"a map of strings":           {Kind: KindWebhook, Time: at, Body: map[string]string{"a": "b"}},
		"a local time":               {Kind: KindWebhook, Time: at.In(local)},
		"the local clock":            {Kind: KindWebhook, Time: time.Now()},
		"a local scheduled time":     {Kind: KindCron, Time: at, ScheduledTime: at.In(local)},
	}
	for name, trig := range refused {
		_, ok := trig.asDecoded()
		require.False(t, ok, name)
		if raw, err := json.Marshal(trig); err == nil {
			// Decoding gives something else: what asDecoded would have
			// kept is not it.
			want, err := DecodeTrigger(raw)
			require.NoError(t, err)
			kept := trig
			kept.RequestFingerprint = ""
			require.NotEqual(t, want, kept, name)
		}
	}
}
