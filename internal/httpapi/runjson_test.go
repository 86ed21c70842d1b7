package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// checkRunView checks appendRunView against json.Marshal for v: it takes
// v exactly when json.Marshal encodes it, and gives the same bytes.
func checkRunView(t testing.TB, v *engine.RunView) {
	t.Helper()
	want, err := json.Marshal(v)
	got, ok := appendRunView(nil, v)
	if err != nil {
		require.False(t, ok, "json.Marshal fails (%v), appendRunView took it: %s", err, got)
		return
	}
	require.True(t, ok, "json.Marshal encodes it, appendRunView does not: %s", want)
	require.Equal(t, string(want), string(got))
}

// runViewOf builds a run object with every field, from the fuzzer's
// values: s for the texts, raw for every raw message, n for the numbers,
// and the bits of shape for which optional parts are there.
func runViewOf(s string, raw []byte, n int64, shape uint16) *engine.RunView {
	bit := func(i int) bool { return shape&(1<<i) != 0 }
	at := time.Unix(n%(1<<40), n%1e9).UTC()
	if bit(0) {
		at = at.In(time.FixedZone("x", int(n%86400)))
	}
	rawOr := func(i int) json.RawMessage {
		if bit(i) {
			return nil
		}
		return raw
	}
	item := int(n)
	v := &engine.RunView{
		RunID: s, Workflow: s + "w", Status: "succeeded", Trigger: rawOr(1),
		Attempt: int(n), CreatedAt: at,
	}
	if bit(2) {
		v.Error, v.Reason, v.Owner = s, s, s
		v.StartedAt, v.FinishedAt = &at, &at
		v.Operations = []store.Operation{{RunID: "r", At: at, By: s, Action: "retry", Detail: s}, {At: at, By: "api", Action: "cancel"}}
	}
	if bit(3) {
		return v // steps nil: null
	}
	v.Steps = []engine.StepView{}
	if bit(4) {
		return v
	}
	step := engine.StepView{ID: s, Status: "failed", Attempts: int(n), Output: rawOr(5)}
	if bit(6) {
		step.Provider, step.Error, step.ErrorClass, step.ErrorField, step.Reason = s, engine.ErrorText(s), s, s, s
	}
	if bit(7) {
		av := engine.AttemptView{Attempt: 1, Provider: s, StartedAt: at, DurationMS: n, Outcome: "succeeded"}
		full := av
		full.Item, full.Action, full.FinishedAt, full.Error, full.RetryAfterMS = &item, s, &at, s, n
		full.Request, full.Response = rawOr(8), raw
		step.History = []engine.AttemptView{av, full}
	}
	if bit(9) {
		d := &engine.DeliveryView{Status: s, At: at, Event: rawOr(10)}
		step.Items = []engine.ItemView{
			{Index: 0, Status: "sent"},
			{Index: int(n), Status: s, Provider: s, Attempts: 2, Output: raw, Error: s, Reason: s, Delivery: d},
		}
		step.Delivery = d
		step.Progress = &engine.ProgressView{Done: 1, Failed: int(n), Total: 3}
		if bit(11) {
			step.Progress.ETA = &at
		}
	}
	v.Steps = append(v.Steps, step, engine.StepView{ID: "second"})
	return v
}

// allParts are the bits of runViewOf's shape.
const allParts = 1<<12 - 1

// TestRunViewEncodingIsJSONMarshal checks the run object's hand-written
// encoding against json.Marshal for views with and without each optional
// part, with texts and raw messages that need escaping, compacting, or are
// invalid.
func TestRunViewEncodingIsJSONMarshal(t *testing.T) {
	t.Parallel()
	texts := []string{"", "run-1", `q"\<>&`, "ünï\u2028\u2029\xff\n\t"}
	raws := []string{`{"a":1}`, ` { "a" : [1, 2, "x y"] , "b":"<tag>&\u2028" } `, "\"\xe2\x80\xa8\xe2\x80\xa9\"", `"a\"<"`, `null`, ``, `{`, `{"a":1}x`, "[\n\t1\r]", `"\u003c"`}
	for _, s := range texts {
		for _, raw := range raws {
			for _, n := range []int64{0, 1, -7, 1 << 40, 253402300800} {
				// Every optional part, none, each alone and each left out.
				shapes := []uint16{0, allParts}
				for i := range 12 {
					shapes = append(shapes, 1<<i, allParts&^(1<<i))
				}
				for _, shape := range shapes {
					checkRunView(t, runViewOf(s, []byte(raw), n, shape))
				}
			}
		}
	}
	// Every combination of the optional parts, once.
	for shape := range uint16(allParts + 1) {
		checkRunView(t, runViewOf(texts[2], []byte(raws[1]), 7, shape))
	}
	// A year JSON cannot encode: json.Marshal fails.
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	checkRunView(t, &engine.RunView{CreatedAt: far})
	checkRunView(t, &engine.RunView{StartedAt: &far})
}

// TestWriteRunViewIsWriteJSON checks the answer writeRunView writes
// against writeJSON's, headers included, and that a view it does not take
// is answered as writeJSON answers it.
func TestWriteRunViewIsWriteJSON(t *testing.T) {
	t.Parallel()
	a := &api{}
	for _, v := range []*engine.RunView{
		runViewOf("run-1", []byte(`{"to": "<x>"}`), 5, allParts),
		runViewOf("run-2", []byte(`{"to": "x"}`), 5, 0),
	} {
		want := httptest.NewRecorder()
		a.writeJSON(want, 200, v)
		got := httptest.NewRecorder()
		a.writeRunView(got, 200, v)
		require.Equal(t, want.Code, got.Code)
		require.Equal(t, want.Header(), got.Header())
		require.Equal(t, want.Body.String(), got.Body.String())
	}
}

// FuzzRunViewEncoding checks the run object's encoding against
// json.Marshal on any texts and raw messages.
func FuzzRunViewEncoding(f *testing.F) {
	f.Add("run-1", []byte(`{"a": [1, "<b>"]}`), int64(3), uint16(allParts))
	f.Add("", []byte("\"\xe2\x80\xa8\""), int64(-1), uint16(0))
	f.Fuzz(func(t *testing.T, s string, raw []byte, n int64, shape uint16) {
		checkRunView(t, runViewOf(s, raw, n, shape))
	})
}

// BenchmarkRunViewAnswer measures the run object of a one-step run, as a
// respond = "output" webhook answers it: json.Marshal against
// appendRunView.
func BenchmarkRunViewAnswer(b *testing.B) {
	at := time.Date(2026, 12, 7, 21, 0, 0, 123456789, time.UTC)
	v := &engine.RunView{
		RunID: "01JRUN9ZQ7XK3M2V4B8C6D5E1F", Workflow: "output", Status: "succeeded",
		Trigger: json.RawMessage(`{"kind":"webhook","time":"2026-12-07T21:00:00.123456789Z","body":{"text":"disk almost full on db-1","to":"14155550123","vip":true},"headers":{"content-type":"application/json","user-agent":"Go-http-client/1.1"}}`),
		Steps: []engine.StepView{{
			ID: "send", Status: "succeeded", Attempts: 1, Provider: "sandbox", Output: json.RawMessage(`{"id":"m-01JRUN9ZQ7XK3M2V4B8C6D5E1F:send"}`),
			History: []engine.AttemptView{{Attempt: 1, Provider: "sandbox", Action: "send", StartedAt: at, FinishedAt: &at, Outcome: "succeeded"}},
		}},
		Attempt: 1, CreatedAt: at, StartedAt: &at, FinishedAt: &at,
	}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendRunView", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var ok bool
			if buf, ok = appendRunView(buf[:0], v); !ok {
				b.Fatal("not taken")
			}
		}
	})
}

// TestRunViewEncoderKnowsEveryField fails when a field is added to, or
// removed from, a type of the run object: appendRunView writes each field
// by name, so it must be taught the new field (and checkRunView's inputs
// given it) before this list is updated.
func TestRunViewEncoderKnowsEveryField(t *testing.T) {
	t.Parallel()
	written := map[reflect.Type][]string{
		reflect.TypeFor[engine.RunView]():      {"run_id", "workflow", "status", "trigger", "steps", "error", "reason", "attempt", "owner", "created_at", "started_at", "finished_at", "operations"},
		reflect.TypeFor[engine.StepView]():     {"id", "status", "attempts", "provider", "output", "error", "error_class", "error_field", "reason", "history", "items", "progress", "delivery"},
		reflect.TypeFor[engine.AttemptView]():  {"attempt", "item", "provider", "action", "started_at", "finished_at", "duration_ms", "outcome", "error", "retry_after_ms", "request", "response"},
		reflect.TypeFor[engine.ItemView]():     {"index", "status", "provider", "attempts", "output", "error", "reason", "delivery"},
		reflect.TypeFor[engine.DeliveryView](): {"status", "at", "event"},
		reflect.TypeFor[store.Operation]():     {"-", "at", "by", "action", "detail"},
	}
	for ty, want := range written {
		var got []string
		for f := range ty.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			got = append(got, name)
		}
		require.Equal(t, want, got, "%s's JSON fields changed: teach appendRunView (runjson.go) the change first", ty)
	}
}
