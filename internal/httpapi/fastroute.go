package httpapi

import (
	"net/http"
	"strings"
)

// fastRoute is a route the router matches before the ServeMux, so the
// requests that start runs skip the mux's matching, which allocates a
// handful of values per request. It takes only the requests it is sure the
// mux routes to its pattern, with the same wildcard value; every other
// request (another method, a path the mux would clean or redirect, an
// escaped path) goes to the mux, which answers it as before.
type fastRoute struct {
	// method is the method of the pattern.
	method string
	// pattern is the ServeMux pattern the route stands for, set as the
	// request's Pattern as the mux sets it.
	pattern string
	// prefix is the path up to the wildcard, and suffix what follows the
	// wildcard: empty when the wildcard takes the rest of the path
	// ({name...}), else the wildcard is one segment ({name}).
	prefix, suffix string
	// wildcard is the wildcard's name.
	wildcard string
}

// The routes served before the mux: webhooks and manual runs.
var (
	hookRoute = fastRoute{method: "POST", pattern: "POST /hooks/{path...}", prefix: "/hooks/", wildcard: "path"}
	runsRoute = fastRoute{method: "POST", pattern: "POST /api/v1/workflows/{name}/runs", prefix: "/api/v1/workflows/", suffix: "/runs", wildcard: "name"}
)

// match returns the value of the route's wildcard in r, and reports
// whether the ServeMux would serve r with the route's pattern and give
// that value. It allocates nothing.
func (f *fastRoute) match(r *http.Request) (string, bool) {
	// With RawPath set, the mux matches the escaped path, whose segments
	// may differ from Path's (a %2F); that is left to it. Without, the
	// escaped path is Path with some bytes escaped, never a '/' or a '.',
	// so it has Path's segments, is clean when Path is, and unescapes to
	// Path.
	p := r.URL.Path
	if r.Method != f.method || r.URL.RawPath != "" || r.RequestURI == "*" || !strings.HasPrefix(p, f.prefix) {
		return "", false
	}
	v := p[len(f.prefix):]
	if f.suffix != "" {
		var ok bool
		if v, ok = strings.CutSuffix(v, f.suffix); !ok || strings.Contains(v, "/") {
			return "", false
		}
	}
	// An empty value is left to the mux: it is either no match or a
	// path the mux redirects.
	if v == "" || !cleanPath(p) {
		return "", false
	}
	return v, true
}

// cleanPath reports whether p, which starts with a slash, is a path the
// ServeMux serves without redirecting to a cleaned form (path.Clean's
// result, with a trailing slash kept): no empty segment but a last one,
// no "." or ".." segment. It reads p once, as path.Clean would read it
// twice, and allocates nothing.
func cleanPath(p string) bool {
	for i := 0; i < len(p); {
		// p[i] is a slash; the segment runs to the next one.
		end := len(p)
		if j := strings.IndexByte(p[i+1:], '/'); j >= 0 {
			end = i + 1 + j
		}
		switch p[i+1 : end] {
		case "":
			if end != len(p) {
				return false
			}
		case ".", "..":
			return false
		}
		i = end
	}
	return true
}

// pathValue returns the value of route's wildcard in r, whether the
// router's fast path or the ServeMux routed r.
func (f *fastRoute) pathValue(r *http.Request) string {
	if v, ok := f.match(r); ok {
		return v
	}
	return r.PathValue(f.wildcard)
}

// fastHandler is a fast route and the handler that serves it.
type fastHandler struct {
	route *fastRoute
	h     http.Handler
}

// serveFast serves r with the first fast route that matches it, and
// reports whether one did.
func (rt *router) serveFast(w http.ResponseWriter, r *http.Request) bool {
	for i := range rt.fast {
		f := &rt.fast[i]
		if _, ok := f.route.match(r); ok {
			r.Pattern = f.route.pattern
			f.h.ServeHTTP(w, r)
			return true
		}
	}
	return false
}
