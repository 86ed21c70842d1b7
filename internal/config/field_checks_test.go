package config

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/sdk"
	"github.com/stretchr/testify/require"
)

// TestValidateRunsTheDeclarativeFieldChecks checks that a plugin's
// string-or-integer fields, bounds and lengths, received as JSON as the host
// receives them from describe, are enforced at load time with the line of
// the offending value.
func TestValidateRunsTheDeclarativeFieldChecks(t *testing.T) {
	t.Parallel()
	spec := &sdk.Spec{
		Type: "tg", Version: "1.0.0",
		Config: sdk.Fields(sdk.String("token", "").AsSensitive()),
		Actions: []sdk.Action{{Name: "send", Input: sdk.Fields(
			sdk.StringOrInteger("chat_id", "").AsRequired().Matching(`^@`),
			sdk.String("text", "").WithLength(1, 10),
			sdk.Integer("ttl", "").AtLeast(1).AtMost(60),
		)}},
	}
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	var wire sdk.Spec
	require.NoError(t, json.Unmarshal(b, &wire))
	opts := LoadOptions{Spec: func(string) (*sdk.Spec, error) { return &wire, nil }}
	src := `provider "tg" {}

workflow "w" {
  trigger "webhook" { path = "w" }
  step "a" {
    uses = "tg.send"
    with = { chat_id = -1001234567890, text = "hi", ttl = 60 }
  }
  step "b" {
    uses = "tg.send"
    with = {
      chat_id = true
      text    = "far too long a text"
      ttl     = 0
    }
  }
  step "c" {
    uses = "tg.send"
    with = { chat_id = "channel" }
  }
}
`
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(src)}}, opts)
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	require.Equal(t, []string{
		`p.hcl:12:7: with.chat_id of tg.send: must be a string or an integer, got boolean`,
		`p.hcl:13:7: with.text of tg.send: has 19 characters, more than the maximum 10`,
		`p.hcl:14:7: with.ttl of tg.send: 0 is below the minimum 1`,
		`p.hcl:19:14: with.chat_id of tg.send: "channel" does not match ^@`,
	}, got)
}
