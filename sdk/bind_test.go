package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type bindRecipient struct {
	Phone  string `json:"phone"`
	ChatID string `json:"chat_id"`
}

type phoneNumber string

type bindMessage struct {
	bindRecipient
	Body    string      `json:"body"`
	Quoted  string      `json:"quoted_msg_id,omitempty"`
	Phones  []string    `json:"mentioned_phones"`
	Count   int8        `json:"count"`
	Big     uint16      `json:"big"`
	Ratio   float32     `json:"ratio"`
	On      bool        `json:"on"`
	Status  string      `json:"status"`
	Named   phoneNumber `json:"named"`
	Plain   string
	Ignored string `json:"-"`
	hidden  string
}

type upperText string

func (u *upperText) UnmarshalText(b []byte) error {
	*u = upperText(strings.ToUpper(string(b)))
	return nil
}

// The types the direct path declines, each for one reason.
type (
	bindTime    struct{ When time.Time }
	bindPointer struct{ Sent *bool }
	bindFolded  struct{ Body, BODY string }
	bindText    struct{ Name upperText }
	bindQuoted  struct {
		N int `json:"n,string"`
	}
	bindAny      struct{ Extra any }
	bindEmbedPtr struct{ *bindRecipient }
)

// TestBindMatchesJSONRoundTrip checks that Bind gives what decoding the
// input's JSON encoding gives (bindJSON, the direct path's reference), value
// and error alike, for every type and input below, and that the direct path
// either binds or leaves the value untouched.
func TestBindMatchesJSONRoundTrip(t *testing.T) {
	t.Parallel()
	types := []any{&bindMessage{}, &bindTime{}, &bindPointer{}, &bindFolded{}, &bindText{}, &bindQuoted{}, &bindAny{}, &bindEmbedPtr{}}
	n := func(s string) json.Number { return json.Number(s) }
	inputs := []map[string]any{
		nil,
		{},
		{"phone": "14155550123", "body": "Good morning ✓ \u2028 <&>", "mentioned_phones": []any{"1", "2"}, "count": n("-12"),
			"big": n("65535"), "ratio": n("1.5e-3"), "on": true, "Plain": "p", "named": "n", "status": "s", "quoted_msg_id": "q"},
		{"body": "x", "extra": map[string]any{"a": []any{n("1"), nil, true, "\xff"}}, "hidden": "h", "Ignored": "i", "-": "dash"},
		{"BODY": "x"}, {"Body": "x", "body": "y"}, {"ſtatus": "fold"}, {"plain": "p"}, {"Sent": true}, {"sent": nil},
		{"body": n("1")}, {"count": "12"}, {"count": n("300")}, {"count": n("1.5")}, {"count": n("+5")}, {"count": n("05")},
		{"count": n("1e2")}, {"count": float64(3)}, {"ratio": n("1e400")}, {"big": n("-1")}, {"on": "true"},
		{"mentioned_phones": []any{"a", n("1")}}, {"mentioned_phones": "a"}, {"mentioned_phones": []any{}},
		{"mentioned_phones": []any{"a\xffb"}}, {"body": nil, "mentioned_phones": nil, "count": nil},
		{"body": "a\xffb"}, {"zzz": "\xff"}, {"zzz": n("abc")}, {"zzz": n("-")}, {"zzz": math.NaN()}, {"zzz": make(chan int)},
		{"When": "2026-12-07T10:00:00Z"}, {"Name": "abc"}, {"n": "5"}, {"Extra": map[string]any{"k": n("1")}},
	}
	// Values already holding something, as a handler may preset defaults.
	presets := []func(v any){
		func(any) {},
		func(v any) {
			if m, ok := v.(*bindMessage); ok {
				m.Body, m.Phones, m.Count = "preset", append(make([]string, 0, 8), "old"), 7
			}
		},
	}
	for _, typ := range types {
		for i, in := range inputs {
			for p, preset := range presets {
				name := fmt.Sprintf("%T/input%d/preset%d", typ, i, p)
				fresh := func() any {
					v := reflect.New(reflect.TypeOf(typ).Elem()).Interface()
					preset(v)
					return v
				}
				want := fresh()
				wantErr := bindJSON(in, want)
				got := fresh()
				gotErr := (&Call{Input: in}).Bind(got)
				require.Equal(t, wantErr == nil, gotErr == nil, "%s: error %v, want %v", name, gotErr, wantErr)
				if wantErr != nil {
					require.Equal(t, wantErr.Error(), gotErr.Error(), name)
				}
				require.Equal(t, want, got, name)
				if w, ok := want.(*bindMessage); ok {
					// A list decoded into a list reuses its array.
					require.Equal(t, cap(w.Phones), cap(got.(*bindMessage).Phones), name)
				}

				direct := fresh()
				if !bindInput(in, direct) {
					require.Equal(t, fresh(), direct, "%s: declined, but changed the value", name)
				}
			}
		}
	}
}

// TestBindDirectPath checks that a provider's usual input takes the direct
// path, not the JSON round trip, and which types and values decline it.
func TestBindDirectPath(t *testing.T) {
	t.Parallel()
	in := map[string]any{"phone": "14155550123", "body": "Good morning", "mentioned_phones": []any{"14155550124"}, "count": json.Number("3"), "n": json.Number("42")}
	var m bindMessage
	require.True(t, bindInput(in, &m))
	require.Equal(t, bindMessage{bindRecipient: bindRecipient{Phone: "14155550123"}, Body: "Good morning", Phones: []string{"14155550124"}, Count: 3}, m)

	for _, v := range []any{&bindTime{}, &bindPointer{}, &bindFolded{}, &bindText{}, &bindQuoted{}, &bindAny{}, &bindEmbedPtr{}, &map[string]any{}, bindMessage{}, (*bindMessage)(nil)} {
		require.False(t, bindInput(map[string]any{}, v), "%T", v)
	}
	for _, in := range []map[string]any{{"BODY": "x"}, {"ſtatus": "x"}, {"count": json.Number("+5")}, {"zzz": math.Inf(1)}, {"body": "a\xffb"}} {
		require.False(t, bindInput(in, &bindMessage{}), "%v", in)
	}
}
