package docgen

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestReferenceShowsDeclaredLimits(t *testing.T) {
	t.Parallel()
	spec := &sdk.Spec{
		Type: "wa", Version: "1.0.0",
		Limits: &sdk.Limits{Rate: "80/s", Source: "https://example.com/throughput"},
		Actions: []sdk.Action{
			{Name: "send", Input: sdk.Fields(sdk.String("to", "")), RecipientLimit: &sdk.RecipientLimit{Rate: "1/6s", Field: "to", Source: "https://example.com/pair"}},
			{Name: "notify", Input: sdk.Fields(sdk.String("chat", "")), RecipientLimit: &sdk.RecipientLimit{Expr: "input.chat"}},
		},
	}
	var text bytes.Buffer
	require.NoError(t, ProviderText(&text, spec))
	require.Contains(t, text.String(), "Rate limit: 80/s per instance (override with `rate_limit`); source: https://example.com/throughput\n")
	require.Contains(t, text.String(), "    rate limit per recipient input.to, 1/6s by default (override with `recipient_rate_limit`); source: https://example.com/pair\n")
	require.Contains(t, text.String(), "    rate limit per recipient input.chat, no default rate; set one with `recipient_rate_limit`\n")

	var md bytes.Buffer
	require.NoError(t, ProviderMarkdown(&md, spec, 1))
	require.Contains(t, md.String(), "- Rate limit: `80/s` per instance (override with `rate_limit`); source: https://example.com/throughput\n")
	require.Contains(t, md.String(), "Rate limit per recipient `input.to`, `1/6s` by default (override with `recipient_rate_limit`); source: https://example.com/pair.\n")
}
