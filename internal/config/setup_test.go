package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/sdk"
	"github.com/stretchr/testify/require"
)

// testSpecs are small provider descriptions shaped like the bundled
// plugins', enough to exercise schema checks.
var testSpecs = map[string]*sdk.Spec{
	"chatapi": {
		Type:    "chatapi",
		Version: "1.3.0",
		Config: sdk.Fields(
			sdk.String("instance_id", "instance").AsRequired(),
			sdk.String("token", "token").AsRequired().AsSensitive(),
			sdk.String("api_url", "base url").WithDefault("https://api.chat-api.com"),
			sdk.String("uid", "account key").AsSensitive(),
		),
		Actions: []sdk.Action{
			{Name: "send_message", Input: sdk.Schema{
				Fields: []sdk.Field{
					sdk.String("phone", "phone").Matching(`^[0-9]+$`),
					sdk.String("chat_id", "chat"),
					sdk.String("body", "text").AsRequired(),
					sdk.String("quoted_msg_id", "quote"),
					sdk.Array("mentioned_phones", "mentions", sdk.String("", "")),
				},
				ExactlyOneOf: [][]string{{"phone", "chat_id"}},
			}, Reconciles: true},
			{Name: "status"},
		},
		Events: []sdk.EventSpec{{Name: "chatapi.message"}, {Name: "chatapi.ack"}},
	},
	"chitchatlabs": {
		Type: "chitchatlabs",
		Config: sdk.Fields(
			sdk.String("api_key", "key").AsRequired().AsSensitive(),
			sdk.String("base_url", "base url"),
		),
		Actions: []sdk.Action{
			{Name: "send_single", Input: sdk.Fields(
				sdk.Object("to", "recipient",
					sdk.String("mobile", "number").AsRequired(),
					sdk.String("name", "name"),
				).AsRequired(),
				sdk.String("fb_template", "template").AsRequired(),
				sdk.String("language", "language").AsRequired(),
				sdk.Array("params", "params", sdk.Any("", "")),
				sdk.Object("file", "file",
					sdk.String("type", "type").OneOf("image", "video", "document").AsRequired(),
					sdk.String("link", "url").AsRequired(),
				),
				sdk.String("tag", "tag"),
			)},
		},
	},
	"chatwoot": {
		Type: "chatwoot",
		Config: sdk.Fields(
			sdk.String("base_url", "url").AsRequired(),
			sdk.Integer("account_id", "account").AsRequired(),
			sdk.String("api_access_token", "token").AsRequired().AsSensitive(),
			sdk.Integer("inbox_id", "inbox").AsRequired(),
			sdk.String("webhook_secret", "secret").AsSensitive(),
		),
		Actions: []sdk.Action{
			{Name: "send_message", Input: sdk.Fields(
				sdk.Object("contact", "contact",
					sdk.String("identifier", ""), sdk.String("phone_number", ""),
					sdk.String("email", ""), sdk.String("name", ""),
				).AsRequired(),
				sdk.String("content", "text").AsRequired(),
				sdk.String("message_type", "type").OneOf("outgoing", "incoming"),
				sdk.Bool("private", "private"),
				sdk.Map("content_attributes", "attributes"),
			)},
		},
		Events: []sdk.EventSpec{{Name: "chatwoot.message_created"}, {Name: "chatwoot.conversation_created"}},
	},
}

// testSecrets are the secrets the fixtures read.
var testSecrets = map[string]string{
	"CHATAPI_TOKEN": "tok-chatapi",
	"CCL_KEY":       "key-ccl",
	"CW_TOKEN":      "tok-chatwoot",
	"CW_HOOK":       "hook-chatwoot",
	"HOOK_SECRET":   "hook-oncall",
}

// testOptions returns LoadOptions with the test specs and secrets.
func testOptions() LoadOptions {
	return LoadOptions{
		Spec: func(typ string) (*sdk.Spec, error) {
			if s, ok := testSpecs[typ]; ok {
				return s, nil
			}
			return nil, fmt.Errorf("plugin herald-provider-%s not found", typ)
		},
		Secret: func(name string) (string, bool) {
			v, ok := testSecrets[name]
			return v, ok
		},
	}
}

// writeProject writes files into a fresh directory and returns it.
func writeProject(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return dir
}

// fixture reads a file of testdata/config.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", name))
	require.NoError(t, err)
	return data
}

// messages formats diagnostics with file names relative to dir.
func messages(dir string, diags Diagnostics) []string {
	var out []string
	for _, d := range diags {
		c := *d
		if rel, err := filepath.Rel(dir, d.File); err == nil && !errors.Is(err, filepath.ErrBadPattern) {
			c.File = rel
		}
		c.Summary = strings.ReplaceAll(c.Summary, dir+string(filepath.Separator), "")
		out = append(out, c.String())
	}
	return out
}
