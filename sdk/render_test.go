package sdk_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestMask(t *testing.T) {
	t.Parallel()
	secrets := []string{"s3cr3t/+&=x", "zq9zq"}
	req := sdk.RenderedRequest{
		Method: "POST",
		URL:    "https://api.example.com/instance1/send?token=s3cr3t%2F%2B%26%3Dx&other=zq9zq",
		Header: map[string]string{"Authorization": "Bearer s3cr3t/+&=x", "X-Path": "s3cr3t%2F+&=x", "Accept": "application/json"},
		Body: map[string]any{
			"key":    "s3cr3t/+&=x",
			"nested": map[string]any{"list": []any{"before zq9zq after", 42, true}},
			"plain":  "nothing to hide",
		},
	}
	got := sdk.Mask(req, secrets)
	require.Equal(t, sdk.RenderedRequest{
		Method: "POST",
		URL:    "https://api.example.com/instance1/send?token=***&other=***",
		Header: map[string]string{"Authorization": "Bearer ***", "X-Path": "***", "Accept": "application/json"},
		Body: map[string]any{
			"key":    "***",
			"nested": map[string]any{"list": []any{"before *** after", 42, true}},
			"plain":  "nothing to hide",
		},
	}, got)
	// The input is left alone.
	require.Equal(t, "s3cr3t/+&=x", req.Body.(map[string]any)["key"])
}

func TestMaskLongestSecretFirst(t *testing.T) {
	t.Parallel()
	// "abcd" is inside "abcdefgh": the longer one is masked whole, not as "***efgh".
	require.Equal(t, "x *** y ***", sdk.MaskString("x abcdefgh y abcd", []string{"abcd", "abcdefgh"}))
}

func TestMaskIgnoresValuesTooShortToMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a token t and ***", sdk.MaskString("a token t and tokn", []string{"t", "tokn"}))
}

func TestMaskNoSecrets(t *testing.T) {
	t.Parallel()
	req := sdk.RenderedRequest{Method: "GET", URL: "https://x/?a=b"}
	require.Equal(t, req, sdk.Mask(req, nil))
	require.Equal(t, "same", sdk.MaskString("same", []string{""}))
}

// awkwardSecrets hold every character class that encodes differently in
// Go-quoted, JSON, HTML and URL text.
var awkwardSecrets = []string{
	`tok"en\with<&>`,
	`back\slash<script>`,
	`quote"amp&ersand`,
	"uni-çødé ✓ spaced out",
	"url?a=b&c=d#frag%20+/x",
	"ctl\ttab\nnewline\x01",
	"it's 'single' <b>",
	"line\u2028sep\u2029",
}

// quotedForms are the ways Herald's own output shows a value: errors that
// quote it, JSON with and without HTML escaping, URLs, HTML, and those
// nested once (a quoted error stored in a JSON document).
func quotedForms(s string) map[string]string {
	jsonHTML, _ := json.Marshal(s)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	quotedErr := fmt.Sprintf("invalid value %q", s)
	nested, _ := json.Marshal(quotedErr)
	return map[string]string{
		"raw":            "value " + s + " end",
		"%q":             fmt.Sprintf("got %q", s),
		"%+q":            fmt.Sprintf("got %+q", s),
		"%#v":            fmt.Sprintf("got %#v", s),
		"json":           string(jsonHTML),
		"json-no-html":   plain.String(),
		"html":           html.EscapeString(s),
		"query":          "https://x/?token=" + url.QueryEscape(s),
		"path":           "https://x/" + url.PathEscape(s) + "/send",
		"url.Values":     url.Values{"token": {s}}.Encode(),
		"json(%q)":       string(nested),
		"%q(json)":       fmt.Sprintf("%q", string(jsonHTML)),
		"slog-text":      fmt.Sprintf("msg=%s", strconv.Quote("bad "+s)),
		"json-in-object": fmt.Sprintf(`{"error":%s}`, jsonHTML),
	}
}

// TestMaskEveryEncoding masks each awkward secret in each form it may take;
// the result must hold neither the secret nor any encoding of it.
func TestMaskEveryEncoding(t *testing.T) {
	t.Parallel()
	requireMasksEveryEncoding(t, sdk.NewMasker(awkwardSecrets...), awkwardSecrets)
	// A masker of one secret has few enough form prefixes to check them
	// before replacing (a masker of all eight has too many): each form must
	// still be found.
	for _, s := range awkwardSecrets {
		requireMasksEveryEncoding(t, sdk.NewMasker(s), []string{s})
	}
}

func requireMasksEveryEncoding(t *testing.T, m *sdk.Masker, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for name, text := range quotedForms(s) {
			got := m.String(text)
			require.Contains(t, got, sdk.Masked, "%s form of %q: %s", name, s, got)
			for _, leak := range leakForms(s) {
				require.NotContains(t, got, leak, "%s form of %q leaks %q: %s", name, s, leak, got)
			}
		}
	}
}

// leakForms are the bare encodings of s a leak would show, each computed
// with the standard library directly.
func leakForms(s string) []string {
	j, _ := json.Marshal(s)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	q := strconv.Quote(s)
	qa := strconv.QuoteToASCII(s)
	return []string{
		s,
		q[1 : len(q)-1],
		qa[1 : len(qa)-1],
		string(j[1 : len(j)-1]),
		strings.TrimSuffix(plain.String(), "\n")[1 : plain.Len()-2],
		html.EscapeString(s),
		url.QueryEscape(s),
		url.PathEscape(s),
	}
}
