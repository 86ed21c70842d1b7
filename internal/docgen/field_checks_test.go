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
