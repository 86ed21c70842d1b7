package sdk

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeObject pins what an input, a body override or a config override
// decodes to: an object with numbers kept as json.Number, nested values as
// maps and slices, an empty object for nothing or null, and an error naming
// the kind of any other JSON value.
func TestDecodeObject(t *testing.T) {
	t.Parallel()
	m, err := decodeObject(json.RawMessage(` {"n": 12345678901234567890, "f": 1.50, "s": "x\u00e9", "o": {"a": [1, true, null]}, "z": null} `))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"n": json.Number("12345678901234567890"),
		"f": json.Number("1.50"),
		"s": "xé",
		"o": map[string]any{"a": []any{json.Number("1"), true, nil}},
		"z": nil,
	}, m)
	for _, empty := range []string{"", "  ", "null", " null "} {
		m, err := decodeObject(json.RawMessage(empty))
		require.NoError(t, err, "%q", empty)
		require.Equal(t, map[string]any{}, m, "%q", empty)
	}
	for raw, want := range map[string]string{
		`[1]`:     "not a JSON object: a JSON array",
		`"s"`:     "not a JSON object: a JSON string",
		`true`:    "not a JSON object: a JSON boolean",
		` 42 `:    "not a JSON object: a JSON number",
		`{"a":`:   "not a JSON object: unexpected EOF",
		`{"a" 1}`: "not a JSON object: invalid character '1' after object key",
	} {
		_, err := decodeObject(json.RawMessage(raw))
		require.EqualError(t, err, want, "%s", raw)
	}
}

// BenchmarkDecodeObject decodes a 200-byte input, as every call does.
func BenchmarkDecodeObject(b *testing.B) {
	raw := json.RawMessage(`{"phone":"14155550123","body":"Good morning ops, you are on call today. Reply ACK to confirm.","quoted_msg_id":"false_14155550123@c.us_3EB0C767D26A1D8B3A4B","mentioned_phones":["14155550124"],"n":42}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeObject(raw); err != nil {
			b.Fatal(err)
		}
	}
}
