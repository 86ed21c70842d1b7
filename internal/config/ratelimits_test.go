package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// limitedOptions returns test options whose chatapi declares 80/s per
// instance and one message every 6s per recipient of send_message.
func limitedOptions() LoadOptions {
	opts := testOptions()
	spec := *testSpecs["chatapi"]
	spec.Limits = &sdk.Limits{Rate: "80/s"}
	spec.Actions = append([]sdk.Action(nil), spec.Actions...)
	for i := range spec.Actions {
		if spec.Actions[i].Name == "send_message" {
			spec.Actions[i].RecipientLimit = &sdk.RecipientLimit{Rate: "1/6s", Expr: "has(input.phone) ? input.phone : input.chat_id"}
		}
	}
	opts.Spec = func(typ string) (*sdk.Spec, error) {
		if typ == "chatapi" {
			return &spec, nil
		}
		return testOptions().Spec(typ)
	}
	return opts
}

func TestDeclaredLimitsApplyByDefault(t *testing.T) {
	t.Parallel()
	p, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hclProviders)}}, limitedOptions())
	require.Empty(t, diags)
	prov := p.Providers["chatapi"]
	require.Equal(t, &RateLimit{Text: "80/s", Count: 80, Per: time.Second, Rate: 80, Burst: 1, Source: LimitDeclared}, prov.RateLimit,
		"a declared limit spaces calls evenly: its burst is 1")
	rl := prov.RecipientLimits["send_message"]
	require.NotNil(t, rl)
	require.Equal(t, "1/6s per has(input.phone) ? input.phone : input.chat_id", rl.String())
	require.InDelta(t, 1.0/6, rl.Rate, 1e-9)
	require.Equal(t, LimitDeclared, rl.Source)
}

func TestProviderBlockOverridesDeclaredLimits(t *testing.T) {
	t.Parallel()
	for _, src := range []Source{
		{Name: "p.hcl", Data: []byte(`provider "chatapi" {
  config               = { instance_id = "1", token = "{{ secrets.CHATAPI_TOKEN }}" }
  rate_limit           = "200/s"
  recipient_rate_limit = "1/m"
}
`)},
		{Name: "p.yaml", Data: []byte(`providers:
  chatapi:
    config: {instance_id: "1", token: "{{ secrets.CHATAPI_TOKEN }}"}
    rate_limit: 200/s
    recipient_rate_limit: 1/m
`)},
	} {
		p, diags := LoadSources([]Source{src}, limitedOptions())
		require.Empty(t, diags, src.Name)
		prov := p.Providers["chatapi"]
		require.Equal(t, 200.0, prov.RateLimit.Rate)
		require.Equal(t, LimitConfigured, prov.RateLimit.Source)
		rl := prov.RecipientLimits["send_message"]
		require.Equal(t, "1/m", rl.Text)
		require.Equal(t, "has(input.phone) ? input.phone : input.chat_id", rl.Expr, "the override keeps the declared recipient key")
	}
}

func TestRateLimitNoneTurnsADeclaredLimitOff(t *testing.T) {
	t.Parallel()
	p, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(`provider "chatapi" {
  config               = { instance_id = "1", token = "{{ secrets.CHATAPI_TOKEN }}" }
  rate_limit           = "none"
  recipient_rate_limit = "none"
}
`)}}, limitedOptions())
	require.Empty(t, diags)
	require.Nil(t, p.Providers["chatapi"].RateLimit)
	require.Empty(t, p.Providers["chatapi"].RecipientLimits)
}

func TestRecipientRateLimitDiagnostics(t *testing.T) {
	t.Parallel()
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(`provider "chatapi" {
  config               = { instance_id = "1", token = "{{ secrets.CHATAPI_TOKEN }}" }
  recipient_rate_limit = "often"
}
provider "support" {
  type                 = "chatwoot"
  config               = { base_url = "https://chat.example.com", account_id = 1, api_access_token = "{{ secrets.CW_TOKEN }}", inbox_id = 3 }
  recipient_rate_limit = "1/m"
}
`)}}, limitedOptions())
	require.Equal(t, []string{
		`p.hcl:3:26: recipient_rate_limit in provider "chatapi": rate limit "often" must be <count>/<unit>, such as 20/s or 100/m`,
		`p.hcl:8:26: recipient_rate_limit in provider "support": provider type "chatwoot" names no recipient for any action, so it cannot be limited per recipient`,
	}, messages("/nowhere", diags))
}
