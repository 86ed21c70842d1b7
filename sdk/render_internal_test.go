package sdk

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMaskerPrefixes checks which maskers check their forms' prefixes before
// replacing: a few secrets do, and a masker with more prefixes than pay
// replaces every text (TestMaskEveryEncoding covers both paths' results).
func TestMaskerPrefixes(t *testing.T) {
	t.Parallel()
	m := NewMasker("tok-chatapi-8f2c1e9a7b", "uid/0a1b2c")
	require.ElementsMatch(t, []string{"tok-", "uid/", "uid%"}, m.prefixes)
	text := `{"url":"https://api.example.com/instance1/sendMessage?token=tok-chatapi-8f2c1e9a7b&uid=uid%2F0a1b2c"}`
	require.Equal(t, `{"url":"https://api.example.com/instance1/sendMessage?token=***&uid=***"}`, m.String(text))
	require.Equal(t, "nothing to hide", m.String("nothing to hide"))

	// One form is left to strings.Replacer's own search.
	m = NewMasker("tok-chatapi-8f2c1e9a7b")
	require.Nil(t, m.prefixes)
	require.Equal(t, "token=***", m.String("token=tok-chatapi-8f2c1e9a7b"))

	m = NewMasker(`tok"en\with<&>`, `back\slash<script>`, `quote"amp&ersand`, "uni-çødé ✓ spaced out",
		"url?a=b&c=d#frag%20+/x", "ctl\ttab\nnewline\x01", "it's 'single' <b>", "line\u2028sep\u2029")
	require.Nil(t, m.prefixes)
	require.Equal(t, "a *** b", m.String(`a back\slash<script> b`))
}

// TestMaskerRemembersItsLastText checks that a Masker masking the same
// text again (a provider's URL with its token, on every call) gives the
// same result without replacing again or allocating, and that a body
// without any secret is masked without a copy.
func TestMaskerRemembersItsLastText(t *testing.T) {
	m := NewMasker("tok-chatapi-8f2c1e9a7b", "uid/0a1b2c")
	url := "https://api.example.com/instance1/sendMessage?token=tok-chatapi-8f2c1e9a7b"
	other := "https://api.example.com/instance2/sendFile?token=tok-chatapi-8f2c1e9a7b&uid=uid/0a1b2c"
	for range 3 {
		require.Equal(t, "https://api.example.com/instance1/sendMessage?token=***", m.String(url))
		require.Equal(t, "https://api.example.com/instance2/sendFile?token=***&uid=***", m.String(other))
	}
	require.Equal(t, "https://api.example.com/instance1/sendMessage?token=***", m.String(url))
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = m.String(url) }))

	// A text too long to remember is masked all the same.
	long := url + "&pad=" + strings.Repeat("x", maxRememberedMask)
	require.Equal(t, strings.Replace(long, "tok-chatapi-8f2c1e9a7b", Masked, 1), m.String(long))
	require.Equal(t, "https://api.example.com/instance1/sendMessage?token=***", m.String(url))

	body := []byte(`{"sent":true,"message":"Sent to 14155550123@c.us","id":"true_14155550123@c.us_3EB0C767D26A1D8B3A4B"}`)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if got, changed := m.bytes(body); changed || &got[0] != &body[0] {
			t.Fatal("a body without a secret was changed")
		}
	}))
	masked, changed := m.bytes([]byte(`{"token":"tok-chatapi-8f2c1e9a7b"}`))
	require.True(t, changed)
	require.Equal(t, `{"token":"***"}`, string(masked))
}
