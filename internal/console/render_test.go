package console

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPagesAreParsedOnFirstUse checks that New parses no template (a
// herald serve whose console nobody opens keeps none in its heap) and that
// rendering a page parses its set once and keeps it.
func TestPagesAreParsedOnFirstUse(t *testing.T) {
	c, err := New(nil, Options{})
	require.NoError(t, err)
	require.Nil(t, c.pages.base, "New parsed the layout")
	require.Empty(t, c.pages.sets, "New parsed pages")

	rec := httptest.NewRecorder()
	c.renderError(rec, httptest.NewRequest(http.MethodGet, "/ui/nowhere", nil), http.StatusNotFound, "Not found", "no such page here")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), "no such page here")
	require.NotNil(t, c.pages.base)
	require.Len(t, c.pages.sets, 1)
	first := c.pages.sets["error"]

	rec = httptest.NewRecorder()
	c.renderError(rec, httptest.NewRequest(http.MethodGet, "/ui/elsewhere", nil), http.StatusNotFound, "Not found", "not here either")
	require.Contains(t, rec.Body.String(), "not here either")
	require.Same(t, first, c.pages.sets["error"], "the page was parsed again")
}

// TestEveryPageParses parses every page's set, which New no longer does,
// and refuses a name that is not a page.
func TestEveryPageParses(t *testing.T) {
	p := &pages{}
	for _, name := range pageNames {
		tmpl, err := p.get(name)
		require.NoError(t, err, name)
		require.NotNil(t, tmpl.Lookup("layout"), name)
	}
	require.Len(t, p.sets, len(pageNames))
	_, err := p.get("nosuchpage")
	require.ErrorContains(t, err, "no such page")
}

// TestRenderAnswers500WhenAPageDoesNotParse checks that a page whose
// templates cannot be had, now found on first use rather than in New, is
// answered with a 500 and logged rather than rendered empty.
func TestRenderAnswers500WhenAPageDoesNotParse(t *testing.T) {
	c, err := New(nil, Options{})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	c.render(rec, httptest.NewRequest(http.MethodGet, "/ui/", nil), http.StatusOK, "nosuchpage", "Nothing", nil)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Contains(t, rec.Body.String(), "internal error rendering the page")
	require.NotContains(t, c.pages.sets, "nosuchpage")
}
