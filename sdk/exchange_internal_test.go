package sdk

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/jsonenc"
)

// TestAppendJSONStringIsJSONMarshal checks the exchange's string encoding
// (jsonenc's) against json.Marshal, byte for byte.
func TestAppendJSONStringIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "POST", "http://127.0.0.1:8080/instance1/sendMessage?token=***",
		"a&b=<c>", `q"uote\`, "tab\there", "caf\u00e9 \u2028", "\x7f", "bad \xff utf-8"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(jsonenc.AppendString([]byte("x"), s))[1:], "%q", s)
	}
}

// TestMaskBytesDecodesOnlyEscapedJSON checks both ways a response is
// masked: a JSON text with escapes is decoded, so an escaped secret is
// found; one without is masked as text, which finds a secret anywhere in
// it, keys included.
func TestMaskBytesDecodesOnlyEscapedJSON(t *testing.T) {
	t.Parallel()
	m := NewMasker("tok/s3cr3t+1")
	for in, want := range map[string]string{
		`{"a":"x \u0074ok\/s3cr3t+1 y"}`:          `{"a":"x *** y"}`,
		`["tok\/s3cr3t+1"]`:                       `["***"]`,
		`{"tok/s3cr3t+1":{"b":["tok/s3cr3t+1"]}}`: `{"***":{"b":["***"]}}`,
		`not json tok/s3cr3t+1`:                   `not json ***`,
	} {
		require.Equal(t, want, string(maskBytes(m, []byte(in))), in)
	}
}

// TestExchangeRecordKeepsTheResponseAsMasked checks that record masks the
// request it is given and keeps the response, which HTTP.Do has masked, as
// it is.
func TestExchangeRecordKeepsTheResponseAsMasked(t *testing.T) {
	t.Parallel()
	m := NewMasker("tok/s3cr3t+1")
	ex := &Exchange{}
	ex.record(m, "POST", "http://h/x?token=tok/s3cr3t+1&a=<b>", []byte(` {"t":"tok/s3cr3t+1"} `),
		&http.Response{StatusCode: 201}, []byte(`{"r": "***",  "n": 1}`+"\n"))
	require.Equal(t, `{"method":"POST","url":"http://h/x?token=***\u0026a=\u003cb\u003e","body":{"t":"***"}}`, string(ex.Request()))
	require.Equal(t, `{"status":201,"body":{"r": "***",  "n": 1}}`, string(ex.Response()))
	require.True(t, json.Valid(ex.Request()))

	ex.record(m, "GET", "http://h/", nil, nil, nil)
	require.Equal(t, `{"method":"GET","url":"http://h/"}`, string(ex.Request()))
	require.Nil(t, ex.Response())
}
