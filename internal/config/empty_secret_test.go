package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEmptySensitiveConfig refuses a sensitive provider config field that
// is, or resolves to, an empty string: an empty webhook_secret would turn
// Chatwoot's signature check off without a word.
func TestEmptySensitiveConfig(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.Secret = func(name string) (string, bool) {
		if name == "EMPTY" {
			return "", true // as a secrets file line EMPTY= gives
		}
		v, ok := testSecrets[name]
		return v, ok
	}
	chatwoot := func(hook, token string) string {
		return `provider "support" {
  type = "chatwoot"
  config = {
    base_url         = "https://chat.example.com"
    account_id       = 1
    inbox_id         = 3
    api_access_token = "` + token + `"
    webhook_secret   = "` + hook + `"
  }
}
`
	}
	for _, tc := range []struct {
		name, file, content string
		want                []string
	}{
		{"webhook secret from an empty secret", "p.hcl", chatwoot("{{ secrets.EMPTY }}", "{{ secrets.CW_TOKEN }}"),
			[]string{`p.hcl:8:5: provider "support" config: webhook_secret is sensitive and must not be empty: set the secret it reads, or leave webhook_secret out`}},
		{"webhook secret written empty", "p.hcl", chatwoot("", "{{ secrets.CW_TOKEN }}"),
			[]string{`p.hcl:8:5: provider "support" config: webhook_secret is sensitive and must not be empty: set the secret it reads, or leave webhook_secret out`}},
		{"empty secrets joined", "p.hcl", chatwoot("{{ secrets.EMPTY }}{{ secrets.EMPTY }}", "{{ secrets.CW_TOKEN }}"),
			[]string{`p.hcl:8:5: provider "support" config: webhook_secret is sensitive and must not be empty: set the secret it reads, or leave webhook_secret out`}},
		{"token from an empty secret", "p.hcl", chatwoot("{{ secrets.CW_HOOK }}", "{{ secrets.EMPTY }}"),
			[]string{`p.hcl:7:5: provider "support" config: api_access_token is sensitive and must not be empty: set the secret it reads, or leave api_access_token out`}},
		{"yaml", "p.yaml", `providers:
  support:
    type: chatwoot
    config:
      base_url: https://chat.example.com
      account_id: 1
      inbox_id: 3
      api_access_token: "{{ secrets.CW_TOKEN }}"
      webhook_secret: "{{ secrets.EMPTY }}"
`, []string{`p.yaml:9:7: provider "support" config: webhook_secret is sensitive and must not be empty: set the secret it reads, or leave webhook_secret out`}},
		// A secret that is not set stays what it was: its own error.
		{"missing secret", "p.hcl", chatwoot("{{ secrets.NOPE }}", "{{ secrets.CW_TOKEN }}"),
			[]string{`p.hcl:8:24: secret NOPE is not set: set the environment variable HERALD_SECRET_NOPE or add it to the secrets file`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, diags := LoadSources([]Source{{Name: tc.file, Data: []byte(tc.content)}}, opts)
			var got []string
			for _, d := range diags {
				got = append(got, d.String())
			}
			require.Equal(t, tc.want, got)
			require.Nil(t, p)
		})
	}

	// Set, or left out, the webhook secret loads.
	for _, content := range []string{
		chatwoot("{{ secrets.CW_HOOK }}", "{{ secrets.CW_TOKEN }}"),
		`provider "support" {
  type   = "chatwoot"
  config = { base_url = "https://chat.example.com", account_id = 1, inbox_id = 3, api_access_token = "{{ secrets.CW_TOKEN }}" }
}
`,
	} {
		p, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(content)}}, opts)
		require.Empty(t, diags)
		require.NotNil(t, p)
	}
}
