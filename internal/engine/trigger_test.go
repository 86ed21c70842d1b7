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

// TestEncodeTriggerIsJSONMarshal checks encodeTrigger against
// json.Marshal, byte for byte, for triggers of every kind and field, with
// bodies of every JSON shape (unicode, HTML-ish characters, invalid UTF-8,
// numbers at encoding/json's format cutoffs, nulls, nesting), times in and
// out of UTC, and values encoding/json refuses.
func TestEncodeTriggerIsJSONMarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.UTC)
	texts := []string{"", "disk <almost> full & \u2028\u2029 \x00\x1f é 日本 🎉", `"quoted" \ back`, "\xff\xfe bad", "line\nbreak\ttab"}
	nums := []any{int64(0), int64(math.MinInt64), 7, 0.25, 1e-7, 1e21, 1e20, -1.5e-300, float64(math.MaxInt64), math.Copysign(0, -1)}
	var bodies []any
	for _, s := range texts {
		bodies = append(bodies, s, map[string]any{s: s, "z": []any{s, nil}}, []any{map[string]any{"<k>": s}})
	}
	for _, n := range nums {
		bodies = append(bodies, n, map[string]any{"n": n, "list": []any{n, true, false, nil}})
	}
	bodies = append(bodies, nil, map[string]any(nil), []any(nil), map[string]any{}, []any{},
		map[string]any{"b": map[string]any{"c": map[string]any{"d": []any{int64(1), "x"}}}, "a": map[string]string{"y": "1", "x": "2"}},
		json.Number("12"), map[string]int{"a": 1}, struct{ A string }{"x"})
	headers := []map[string]string{nil, {}, {"content-type": "application/json", "x-<b>": "a&b", "\xff": "bad"}}
	times := []time.Time{{}, at, at.In(time.FixedZone("CET", 3600)), time.Now(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	var trigs []Trigger
	for i, body := range bodies {
		trigs = append(trigs, Trigger{Kind: KindWebhook, Time: at, Body: body, Headers: headers[i%3], Query: headers[(i+1)%3],
			TraceContext: headers[(i+2)%3], RequestFingerprint: "sha256:x"})
		trigs = append(trigs, Trigger{Kind: KindEvent, Time: at, Event: body, EventType: "message.received", Provider: "chat<1>"})
	}
	for _, tm := range times {
		trigs = append(trigs, Trigger{Kind: KindCron, Time: tm, ScheduledTime: tm, Catchup: true}, Trigger{Kind: "\xff<kind>", Time: tm})
	}
	trigs = append(trigs, Trigger{Kind: KindWebhook, Time: at, Body: math.NaN()}, Trigger{Kind: KindWebhook, Time: at, Event: []any{math.Inf(1)}})
	for i, trig := range trigs {
		want, werr := json.Marshal(trig)
		got, err := encodeTrigger(trig)
		require.Equal(t, werr == nil, err == nil, "trigger %d: %v / %v", i, err, werr)
		require.Equal(t, string(want), string(got), "trigger %d", i)
	}
}
