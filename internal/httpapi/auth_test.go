package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiRoutes are a request to each /api/* endpoint that succeeds with the
// token.
var apiRoutes = []struct{ method, target, body string }{
	{"GET", "/api/v1/workflows", ""},
	{"GET", "/api/v1/workflows/digest", ""},
	{"POST", "/api/v1/workflows/digest/runs", "{}"},
	{"GET", "/api/v1/runs", ""},
	{"GET", "/api/v1/runs?workflow=digest", ""},
}

func TestAPIRequiresToken(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	for _, r := range apiRoutes {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			for name, headers := range map[string][]string{
				"no header":       nil,
				"wrong token":     {"Authorization", "Bearer not-the-token"},
				"token prefix":    {"Authorization", "Bearer " + apiToken[:len(apiToken)-1]},
				"token suffix":    {"Authorization", "Bearer " + apiToken + "x"},
				"basic scheme":    {"Authorization", "Basic " + apiToken},
				"bare token":      {"Authorization", apiToken},
				"empty bearer":    {"Authorization", "Bearer "},
				"two headers":     {"Authorization", "Bearer " + apiToken, "Authorization", "Bearer " + apiToken},
				"query parameter": nil,
			} {
				target := r.target
				if name == "query parameter" {
					if strings.Contains(target, "?") {
						target += "&"
					} else {
						target += "?"
					}
					target += "access_token=" + apiToken
				}
				w := f.do(t, r.method, target, strReader(r.body), headers...)
				msg := errorOf(t, w, http.StatusUnauthorized)
				require.Contains(t, msg, "bearer token", name)
				require.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer", name)
				requireNoSecret(t, w.Body.String())
			}
			for _, auth := range []string{"Bearer " + apiToken, "bearer " + apiToken, "  Bearer   " + apiToken + " "} {
				w := f.do(t, r.method, r.target, strReader(r.body), "Authorization", auth)
				require.Less(t, w.Code, 300, "%q: %s", auth, w.Body)
			}
		})
	}
	require.Len(t, f.rt.triggerCalls(), 3, "only the authorized manual triggers ran")
}

func TestTokenMissingVersusInvalid(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	w := f.do(t, "GET", "/api/v1/runs", nil)
	require.Contains(t, errorOf(t, w, http.StatusUnauthorized), "missing bearer token")
	require.Equal(t, `Bearer realm="herald"`, w.Header().Get("WWW-Authenticate"))
	w = f.do(t, "GET", "/api/v1/runs", nil, "Authorization", "Bearer wrong")
	require.Equal(t, "invalid bearer token", errorOf(t, w, http.StatusUnauthorized))
	require.Equal(t, `Bearer realm="herald", error="invalid_token"`, w.Header().Get("WWW-Authenticate"))
}

func TestUnknownAPIPathNeedsTokenFirst(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	w := f.do(t, "GET", "/api/v2/secrets", nil)
	errorOf(t, w, http.StatusUnauthorized)
	w = f.do(t, "DELETE", "/api/v1/runs", nil)
	errorOf(t, w, http.StatusUnauthorized)
	w = f.do(t, "GET", "/api/v2/secrets", nil, bearer()...)
	errorOf(t, w, http.StatusNotFound)
}

func TestOpenEndpointsNeedNoToken(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	for _, r := range []struct{ method, target, body string }{
		{"GET", "/healthz", ""},
		{"GET", "/readyz", ""},
		{"GET", "/metrics", ""},
		{"POST", "/hooks/team/open", "{}"},
		{"POST", "/providers/support/webhook", "{}"},
	} {
		w := f.do(t, r.method, r.target, strReader(r.body))
		require.Less(t, w.Code, 300, "%s %s: %s", r.method, r.target, w.Body)
	}
}

func TestNoTokenLeavesAPIOpen(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, r := range apiRoutes {
		w := f.do(t, r.method, r.target, strReader(r.body))
		require.Less(t, w.Code, 300, "%s %s: %s", r.method, r.target, w.Body)
	}
}
