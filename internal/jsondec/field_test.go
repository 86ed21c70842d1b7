package jsondec

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// fieldCases are texts Field must read as encoding/json does, or leave
// to it.
var fieldCases = []string{
	`{"id":"m-1"}`, ` { "a" : [1, {"id": 2}, "}"] , "id" : 42 } `, `{"id":"a","id":"b"}`,
	`{"x":{"id":1},"y":"\"id\":3"}`, `{"id":null}`, `{"id":{"k":[true,false]}}`, `{}`,
	`{"i\u0064":"escaped key"}`, `{"id":"caf\u00e9"}`, `[{"id":1}]`, `"id"`, `null`, `12`,
	`{"id":1`, `{"id":1}x`, ``, `{"\xff":1,"id":2}`, `{"id":-1.5e3,"z":"\\"}`,
	`{"ids":1,"i":2,"idx":3}`, "{\"id\"\t:\n\"m\"\r}",
}

// TestFieldIsEncodingJSONsAnswer checks Field against decoding each text
// into a map[string]json.RawMessage: where Field takes a text, it gives
// the same member.
func TestFieldIsEncodingJSONsAnswer(t *testing.T) {
	for _, text := range fieldCases {
		checkField(t, text, "id")
	}
}

// checkField fails t when Field(text, name) takes text and disagrees with
// encoding/json.
func checkField(t *testing.T, text, name string) {
	t.Helper()
	raw, found, ok := Field([]byte(text), name)
	var fields map[string]json.RawMessage
	err := json.Unmarshal([]byte(text), &fields)
	if !ok {
		// Only an invalid text, or one with an escape or invalid UTF-8
		// (where a key may hold them), is left to encoding/json.
		if json.Valid([]byte(text)) && !strings.Contains(text, `\`) && utf8.ValidString(text) {
			t.Errorf("%q: not taken", text)
		}
		return
	}
	want, has := fields[name]
	if err != nil {
		want, has = nil, false
	}
	if found != has || string(raw) != string(want) {
		t.Errorf("%q: Field gives %q (found %v), encoding/json %q (found %v)", text, raw, found, want, has)
	}
}

func TestFieldLeavesEscapedKeysToEncodingJSON(t *testing.T) {
	for _, text := range []string{`{"i\u0064":"x"}`, `{"\xff":1,"id":2}`, `{"id":1`} {
		if _, _, ok := Field([]byte(text), "id"); ok {
			t.Errorf("%q: taken", text)
		}
	}
}

func FuzzField(f *testing.F) {
	for _, text := range fieldCases {
		f.Add(text, "id")
	}
	f.Fuzz(func(t *testing.T, text, name string) { checkField(t, text, name) })
}
