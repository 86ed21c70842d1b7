package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeSlow is DecodeJSON's path through encoding/json, which
// DecodeJSONDirect must agree with: depth checked, text validated, then
// decoded with UseNumber and plainJSON.
func decodeSlow(data []byte) (any, error) {
	if err := CheckJSONDepth(data); err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("invalid JSON")
	}
	return decodeValue(data)
}

// sameJSONValue reports whether a and b are the same plain value: the same
// types all the way down, floats compared by their bits.
func sameJSONValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string, int64:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSONValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !sameJSONValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// checkDirect requires DecodeJSONDirect to give what decodeSlow gives for
// data whenever it takes data, and reports whether it took it.
func checkDirect(t testing.TB, data []byte) bool {
	got, ok := DecodeJSONDirect(data)
	if !ok {
		return false
	}
	want, err := decodeSlow(data)
	require.NoError(t, err, "direct took %q, encoding/json refuses it", data)
	require.True(t, sameJSONValue(want, got), "%q: direct %#v, encoding/json %#v", data, got, want)
	return true
}

func TestDecodeJSONDirectTakesCommonDocuments(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return strings.Repeat(`[{"a":`, n) + "1" + strings.Repeat("}]", n) }
	for _, doc := range []string{
		`{"vip":true,"to":"14155550123","text":"disk almost full on db-1"}`,
		` {"a":1,"b":-2,"c":1.5,"d":1e3,"e":-0,"f":0.0,"g":9223372036854775807,"h":9223372036854775808} `,
		`{"n":null,"f":false,"l":[],"o":{},"u":"héllo ✓","d":1,"d":"last wins"}`,
		`[1,"two",[3],{"four":4}]`,
		`"plain"`, `42`, `-1.25E-2`, `true`, `null`,
		"\t\r\n[ 1 , 2 ]\n",
		`{"tiny":1e-400,"big":-12345678901234567890}`,
		nest(MaxJSONDepth / 2),
	} {
		require.True(t, checkDirect(t, []byte(doc)), "not taken: %s", doc)
	}
}

func TestDecodeJSONDirectLeavesTheRestToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		``, `  `,
		`{"a":"line\nbreak"}`, `{"a\u0041":1}`, "{\"a\":\"tab\there\"}",
		"{\"a\":\"\xff\"}",
		`{"a":1e400}`, `[-1e309]`,
		"[" + strings.Repeat(`[`, MaxJSONDepth) + strings.Repeat(`]`, MaxJSONDepth) + "]",
		`{"a":1}x`, `{"a":1}{}`, `{"a":1,}`, `[1,]`, `{a:1}`, `{"a" 1}`,
		`01`, `1.`, `.5`, `1e`, `+1`, `-`, `--1`, `1.e3`, `tru`, `nul`, `[`, `{"a":`,
	} {
		_, ok := DecodeJSONDirect([]byte(doc))
		require.False(t, ok, "taken: %q", doc)
	}
	// What it leaves, DecodeJSON still decodes as before.
	v, err := DecodeJSON([]byte(`{"a":"line\nbreak","b":1e400}`))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": "line\nbreak", "b": math.Inf(1)}, v)
	_, err = DecodeJSON([]byte(strings.Repeat(`[`, MaxJSONDepth+1)))
	var deep *JSONDepthError
	require.ErrorAs(t, err, &deep)
}

func FuzzDecodeJSONDirect(f *testing.F) {
	for _, seed := range []string{
		`{"vip":true,"to":"14155550123","text":"disk almost full on db-1"}`,
		`[1,-0,0.5,1e3,1E-3,9223372036854775808,"x",null,true,false,{},[]]`,
		`{"a":{"b":[{"c":"ü"}]},"a":2}`, `{"a":"\n"}`, `1e400`, `01`, ` 7 `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDirect(t, data)
	})
}
