package docgen_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/sdk"
)

// TestDescribeShowsStringOrIntegerAndBounds checks that `herald plugins
// describe` (text) and the provider reference (markdown) show a
// string-or-integer field and the declarative bounds a plugin declares.
func TestDescribeShowsStringOrIntegerAndBounds(t *testing.T) {
	t.Parallel()
	spec := &sdk.Spec{Type: "tg", Version: "1.2.0", Actions: []sdk.Action{{
		Name: "send",
		Input: sdk.Fields(
			sdk.StringOrInteger("chat_id", "Chat id or @channel name").AsRequired(),
			sdk.String("text", "Text").WithLength(1, 4096),
			sdk.Integer("ttl", "Seconds").AtLeast(1).AtMost(60),
			sdk.Array("to", "Recipients", sdk.String("", "")).WithLength(1, -1),
		),
	}}}
	var text, md strings.Builder
	require.NoError(t, docgen.ProviderText(&text, spec))
	require.NoError(t, docgen.ProviderMarkdown(&md, spec, 1))
	for _, out := range []string{text.String(), md.String()} {
		require.Contains(t, out, "string or integer")
		require.Contains(t, out, "1 to 4096 characters.")
		require.Contains(t, out, "Between 1 and 60.")
		require.Contains(t, out, "At least 1 element.")
	}
}

// TestSchemaTakesTemplatesForConstrainedFields checks the editor schema of a
// step's with: a string-or-integer with a pattern, and a string with a
// length bound, take a literal that passes, refuse one that does not, and
// take a template either way, as the loader does.
func TestSchemaTakesTemplatesForConstrainedFields(t *testing.T) {
	t.Parallel()
	specs := map[string]*sdk.Spec{"tg": {Type: "tg", Version: "1.0.0", Actions: []sdk.Action{{
		Name: "send",
		Input: sdk.Fields(
			sdk.StringOrInteger("chat_id", "").Matching(`^@`).AtLeast(-1e13),
			sdk.String("text", "").WithLength(1, 5),
		),
	}}}}
	schema := compile(t, docgen.WorkflowSchema(specs))
	doc := func(with string) []byte {
		return []byte("providers:\n  tg: {}\nworkflows:\n  w:\n    steps:\n      - id: s\n        uses: tg.send\n        with: " + with + "\n")
	}
	for _, ok := range []string{
		`{chat_id: "@news", text: hi}`,
		`{chat_id: -1001234567890, text: hi}`,
		`{chat_id: "{{ trigger.body.chat }}", text: "{{ trigger.body.a_long_text }}"}`,
	} {
		require.NoError(t, validate(t, schema, doc(ok)), ok)
	}
	for _, bad := range []string{
		`{chat_id: news}`,
		`{chat_id: -1e14}`,
		`{chat_id: true}`,
		`{text: toolongtext}`,
	} {
		require.Error(t, validate(t, schema, doc(bad)), bad)
	}
}
