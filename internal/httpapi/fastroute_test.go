package httpapi

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/signallink"
)

// subscribeOnly is a Runtime for building the router: only Subscribe is
// called while New builds it.
type subscribeOnly struct{ Runtime }

func (subscribeOnly) Subscribe(func(engine.Event)) func() { return func() {} }

// apiRouter returns the router New builds, with every route (signal links
// included).
func apiRouter(t testing.TB) *router {
	links, err := signallink.New([]byte("0123456789abcdef0123456789abcdef"), "https://herald.example.com")
	require.NoError(t, err)
	return New(subscribeOnly{}, Options{Token: "token", SignalLinks: links}).(*router)
}

// recordingMux is a ServeMux with rt's patterns whose handlers write the
// pattern that matched and the value of each fast route's wildcard, so a
// request's route and values can be compared with the fast routes'.
func recordingMux(rt *router) *http.ServeMux {
	mux := http.NewServeMux()
	for _, pattern := range rt.patterns {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			vals := []string{r.Pattern}
			for _, f := range rt.fast {
				vals = append(vals, r.PathValue(f.route.wildcard))
			}
			_, _ = w.Write([]byte(strings.Join(vals, "\x00")))
		})
	}
	return mux
}

// checkFastRoutes checks that each fast route takes r only when the mux
// serves r under the route's pattern, without a redirect, with the value
// the route gives; it returns the pattern of the route that took r, or
// "" when none did.
func checkFastRoutes(t testing.TB, rt *router, mux *http.ServeMux, r *http.Request) string {
	t.Helper()
	taken := ""
	for i, f := range rt.fast {
		v, ok := f.route.match(r)
		if !ok {
			continue
		}
		require.Empty(t, taken, "two fast routes take %s %q", r.Method, r.RequestURI)
		taken = f.route.pattern
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r.Clone(r.Context()))
		require.Equal(t, http.StatusOK, w.Code, "%s %q: the mux answers %d (%s); the fast route %s took it", r.Method, r.RequestURI, w.Code, w.Header().Get("Location"), f.route.pattern)
		got := strings.Split(w.Body.String(), "\x00")
		require.Equal(t, f.route.pattern, got[0], "%s %q", r.Method, r.RequestURI)
		require.Equal(t, got[1+i], v, "%s %q: the value of {%s}", r.Method, r.RequestURI, f.route.wildcard)
	}
	return taken
}

// readRequest parses a request line as the server does; ok is false when
// the server would refuse it.
func readRequest(method, target string) (*http.Request, bool) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: herald.example.com\r\n\r\n")))
	return r, err == nil
}

// TestFastRoutesAgreeWithTheMux checks the fast routes against the
// ServeMux on paths the mux cleans, redirects or unescapes, and that the
// usual requests take the fast path.
func TestFastRoutesAgreeWithTheMux(t *testing.T) {
	t.Parallel()
	rt := apiRouter(t)
	mux := recordingMux(rt)
	for _, tc := range []struct {
		method, target string
		fast           string // the fast route that takes it, if any
	}{
		{"POST", "/hooks/team/open", hookRoute.pattern},
		{"POST", "/hooks/signed?x=1&y=2", hookRoute.pattern},
		{"POST", "/hooks/a/", hookRoute.pattern},
		{"POST", "/hooks/a%20b", hookRoute.pattern},
		{"POST", "/hooks/a%25b", hookRoute.pattern},
		{"POST", "/hooks/caf%C3%A9", hookRoute.pattern},
		{"POST", "http://other.example.com/hooks/a", hookRoute.pattern},
		{"POST", "/api/v1/workflows/digest/runs", runsRoute.pattern},
		{"POST", "/api/v1/workflows/digest/runs?wait=10s", runsRoute.pattern},
		{"POST", "/api/v1/workflows/a%20b/runs", runsRoute.pattern},
		{"POST", "/hooks/", ""},
		{"POST", "/hooks", ""},
		{"POST", "/hooks//a", ""},
		{"POST", "/hooks/a//b", ""},
		{"POST", "/hooks/./a", ""},
		{"POST", "/hooks/a/..", ""},
		{"POST", "/hooks/a/../b", ""},
		{"POST", "/hooks/a/.", ""},
		{"POST", "/hooks/%2E%2E/a", ""},
		{"POST", "/hooks/a%2Fb", ""},
		{"POST", "/HOOKS/a", ""},
		{"GET", "/hooks/a", ""},
		{"HEAD", "/hooks/a", ""},
		{"PUT", "/hooks/a", ""},
		{"post", "/hooks/a", ""},
		{"CONNECT", "/hooks/a", ""},
		{"POST", "*", ""},
		{"POST", "/api/v1/workflows/digest/runs/", ""},
		{"POST", "/api/v1/workflows/digest", ""},
		{"POST", "/api/v1/workflows//runs", ""},
		{"POST", "/api/v1/workflows/a/b/runs", ""},
		{"POST", "/api/v1/workflows/a%2Fb/runs", ""},
		{"POST", "/api/v1/workflows/../runs", ""},
		{"GET", "/api/v1/workflows/digest/runs", ""},
	} {
		r, ok := readRequest(tc.method, tc.target)
		require.True(t, ok, "%s %s", tc.method, tc.target)
		require.Equal(t, tc.fast, checkFastRoutes(t, rt, mux, r), "%s %s", tc.method, tc.target)
	}
}

// FuzzFastRoutes checks the fast routes against the ServeMux on any
// request line the server accepts.
func FuzzFastRoutes(f *testing.F) {
	for _, seed := range []struct{ method, target string }{
		{"POST", "/hooks/team/open"}, {"POST", "/hooks/a/../b"}, {"POST", "/hooks//a"}, {"POST", "/hooks/a%2Fb"},
		{"POST", "/hooks/%2e/a"}, {"POST", "/api/v1/workflows/digest/runs"}, {"POST", "/api/v1/workflows/a/./runs"},
		{"POST", "http://h/hooks/x"}, {"CONNECT", "/hooks/a"}, {"POST", "/hooks/a%zz"}, {"POST", "/hooks/a;b"},
	} {
		f.Add(seed.method, seed.target)
	}
	rt := apiRouter(f)
	mux := recordingMux(rt)
	f.Fuzz(func(t *testing.T, method, target string) {
		if strings.ContainsAny(method+target, " \r\n") {
			return
		}
		r, ok := readRequest(method, target)
		if !ok {
			return
		}
		checkFastRoutes(t, rt, mux, r)
	})
}

// muxCleanPath is net/http's cleanPath, which the ServeMux redirects to.
func muxCleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			np = p
		} else {
			np += "/"
		}
	}
	return np
}

// FuzzCleanPath checks cleanPath against the ServeMux's cleaning.
func FuzzCleanPath(f *testing.F) {
	for _, p := range []string{"/", "//", "/a", "/a/", "/a//", "/a//b", "/.", "/..", "/...", "/a/.", "/a/./b", "/a/../b", "/a/b/..", "/.a", "/a./", "/./"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if p == "" || p[0] != '/' {
			return
		}
		require.Equal(t, muxCleanPath(p) == p, cleanPath(p), "%q", p)
	})
}
