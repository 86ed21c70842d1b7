package sdk

import (
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
