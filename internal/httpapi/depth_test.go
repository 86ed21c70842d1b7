package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
)

// deepJSON nests n arrays in each other, and an object around them.
func deepJSON(n int) string {
	return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
}

// TestDeepBodiesRefused sends bodies nested one level deeper than
// engine.MaxJSONDepth to every endpoint that decodes JSON: each answers 400
// naming the limit, and nothing starts a run or reaches a plugin. Go's own
// decoder stops at 10,000 levels; a body under that used to go through.
func TestDeepBodiesRefused(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	deep := deepJSON(engine.MaxJSONDepth) // the object is one more level
	want := "JSON nested deeper than 100 levels (at byte 105)"
	for _, tc := range []struct{ name, target, contentType, prefix string }{
		{"webhook", "/hooks/team/open", "application/json", "body: "},
		{"webhook without content type", "/hooks/team/open", "", "body: "},
		{"webhook sent as a form", "/hooks/team/open", "application/x-www-form-urlencoded", ""},
		{"webhook sent as text", "/hooks/team/open", "text/plain", ""},
		{"provider webhook", "/providers/support/webhook", "application/json", "body: "},
		{"api run", "/api/v1/workflows/digest/runs", "application/json", "input: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.contentType != "" {
				headers = []string{"Content-Type", tc.contentType}
			}
			w := f.do(t, "POST", tc.target, strReader(deep), headers...)
			require.Equal(t, tc.prefix+want, errorOf(t, w, http.StatusBadRequest))
		})
	}
	require.Empty(t, f.rt.triggerCalls())
	require.Empty(t, f.rt.webhookReqs)

	// At the limit, and with brackets inside strings, a body is taken.
	ok := deepJSON(engine.MaxJSONDepth - 1)[:len(deepJSON(engine.MaxJSONDepth-1))-1] + `,"s":"` + strings.Repeat("[{", 200) + `\"]"}`
	w := f.do(t, "POST", "/hooks/team/open", strReader(ok))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}
