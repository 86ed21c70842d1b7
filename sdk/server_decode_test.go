package sdk

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// decodeWithDecoder is decodeObject's decoding by encoding/json alone, the
// reference decodeDirect is held to.
func decodeWithDecoder(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// checkDecodeDirect fails when decodeDirect takes raw and gives anything
// but what encoding/json's decoder gives, or takes a text the decoder
// refuses or reads differently; and when decodeObject's result or error
// differs from the decoder's.
func checkDecodeDirect(t *testing.T, raw []byte) (taken bool) {
	t.Helper()
	want, wantErr := decodeWithDecoder(raw)
	got, ok := decodeDirect(raw)
	if ok {
		if wantErr != nil {
			t.Fatalf("%q: decoded directly, the decoder says %v", raw, wantErr)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Fatalf("%q: decoded directly to %#v, the decoder gives %#v", raw, got, want)
		}
	}
	m, err := decodeObject(raw)
	if wm, isMap := want.(map[string]any); wantErr == nil && isMap {
		if err != nil || !reflect.DeepEqual(m, wm) {
			t.Fatalf("%q: decodeObject gives %#v, %v; want %#v", raw, m, err, wm)
		}
	}
	return ok
}

// TestDecodeDirectMatchesDecoder holds the direct decoding of inputs to
// encoding/json's decoder: on objects of every kind of value, texts it
// leaves to the decoder (escapes, invalid UTF-8, malformed or trailing
// text) and random objects, whole and cut or altered at random points.
func TestDecodeDirectMatchesDecoder(t *testing.T) {
	t.Parallel()
	taken := []string{
		`{}`, ` { } `, "{\n\t\"a\" :\r 1 }", `{"phone":"14155550123","body":"Good morning ops, you are on call today."}`,
		`{"n":0,"m":-0,"f":-1.5e-3,"g":1E+9,"h":12345678901234567890123,"i":0.0}`,
		`{"t":true,"f":false,"z":null,"l":[],"o":{},"nested":{"a":[1,[2,[3,{"b":null}]]]}}`,
		`{"a":1,"a":2}`, `{"é":"ünï 😀"}`, `{"":""}`, `{"a":[ true , false , null ]}`,
	}
	for _, raw := range taken {
		if !checkDecodeDirect(t, []byte(raw)) {
			t.Errorf("%s left to the decoder", raw)
		}
	}
	declined := []string{
		``, `null`, `[]`, `"s"`, `{"a":"\n"}`, `{"a\u0041":1}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}",
		"{\"a\":\"\xed\xa0\x80\"}", `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":+1}`, `{"a":1e}`, `{"a":1x}`,
		`{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a" 1}`, `{"a":1,}`, `{,}`, `{"a":[1,]}`, `{"a":[,1]}`, `{a:1}`,
		`{"a":1}x`, `{"a":1} {"b":2}`, `{"a":1`, `{"a":"x`, `{"a":[`, `{"a":{"b":1}`, `{'a':1}`,
		`{"a":` + strings.Repeat(`[`, maxDirectDepth+2) + strings.Repeat(`]`, maxDirectDepth+2) + `}`,
	}
	for _, raw := range declined {
		if checkDecodeDirect(t, []byte(raw)) {
			t.Errorf("%q decoded directly", raw)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		m := map[string]any{}
		for range r.IntN(6) {
			m[string(rune('a'+r.IntN(6)))] = randomOutput(r, 0)
		}
		raw, err := json.Marshal(m)
		if err != nil {
			continue // a NaN or an infinity
		}
		if r.IntN(2) == 0 {
			var b bytes.Buffer
			_ = json.Indent(&b, raw, " ", "\t")
			raw = b.Bytes()
		}
		checkDecodeDirect(t, raw)
		cut := raw[:r.IntN(len(raw)+1)]
		checkDecodeDirect(t, cut)
		altered := bytes.Clone(raw)
		const swaps = "{}[]\",:0-.eE tfn\\\x00\xff"
		altered[r.IntN(len(altered))] = swaps[r.IntN(len(swaps))]
		checkDecodeDirect(t, altered)
	}
}

// FuzzDecodeDirect holds the direct decoding to the decoder on any text.
func FuzzDecodeDirect(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,true,null,{"b":"c"}]}`, `{"a":-1.5e+3}`, `{"a":"\u00e9"}`, `{"a":1} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeDirect(t, raw)
	})
}
