package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func httptestRequest(ctx context.Context, method, target string) *http.Request {
	return httptest.NewRequestWithContext(ctx, method, target, nil)
}

func recorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, tc := range []struct{ method, target, allow string }{
		{"GET", "/hooks/signed", "POST"},
		{"PUT", "/hooks/team/open", "POST"},
		{"GET", "/providers/support/webhook", "POST"},
		{"POST", "/api/v1/workflows", "GET, HEAD"},
		{"DELETE", "/api/v1/workflows/digest", "GET, HEAD"},
		{"GET", "/api/v1/workflows/digest/runs", "POST"},
		{"POST", "/api/v1/runs", "GET, HEAD"},
		{"DELETE", "/api/v1/runs/run-1", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"POST", "/readyz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
	} {
		w := f.do(t, tc.method, tc.target, strReader("{}"))
		msg := errorOf(t, w, http.StatusMethodNotAllowed)
		require.Contains(t, msg, "method "+tc.method+" is not allowed", tc.target)
		require.Equal(t, tc.allow, w.Header().Get("Allow"), tc.target)
	}
	require.Empty(t, f.rt.triggerCalls())
}

func TestHeadOnReads(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "HEAD", "/healthz", nil)
	require.Equal(t, http.StatusOK, w.Code)
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, target := range []string{"/", "/nope", "/hook/signed", "/providers/support", "/api/v1/runs/a/b"} {
		w := f.do(t, "GET", target, nil)
		require.Contains(t, errorOf(t, w, http.StatusNotFound), "no such endpoint", target)
	}
}

func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "GET", "/api/v1/workflows", nil)
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	require.True(t, strings.HasSuffix(w.Body.String(), "\n"))
}

func TestPanicIsA500(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.rt.triggerPanic = true
	w := f.do(t, "POST", "/api/v1/workflows/digest/runs", nil)
	require.Equal(t, "internal error", errorOf(t, w, http.StatusInternalServerError))
	requireNoSecret(t, w.Body.String())

	// http.ErrAbortHandler still aborts the response, as net/http expects.
	h := f.h
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		r := httptest.NewRequest("POST", "/api/v1/workflows/digest/runs", abortReader{})
		h.ServeHTTP(httptest.NewRecorder(), r)
	})
}

// abortReader aborts the handler reading it.
type abortReader struct{}

func (abortReader) Read([]byte) (int, error) { panic(http.ErrAbortHandler) }

var _ io.Reader = abortReader{}
