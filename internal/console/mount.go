package console

import "net/http"

// Mount returns a handler that serves c under its prefix, redirects GET /
// to the console, and hands every other request to next (the HTTP API).
func Mount(next http.Handler, c *Console) http.Handler {
	mux := http.NewServeMux()
	p := c.opts.Prefix
	if p == "" {
		// A console at the root answers what the API does not serve.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isAPIPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			c.ServeHTTP(w, r)
		})
	}
	mux.Handle(p+"/", c)
	mux.Handle(p, c)
	mux.Handle("GET /{$}", http.RedirectHandler(p+"/", http.StatusFound))
	mux.Handle("/", next)
	return mux
}

// isAPIPath reports the paths the HTTP API owns.
func isAPIPath(path string) bool {
	for _, prefix := range []string{"/api/", "/hooks/", "/providers/", "/healthz", "/readyz", "/metrics"} {
		if len(path) >= len(prefix) && path[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
