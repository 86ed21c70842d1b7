package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/tracing"
)

// instrument records each request under route, logs it, and turns a panic
// into a 500 so one bad request cannot take the connection's others down
// unanswered.
func (a *api) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				a.log.Error("panic serving request", "route", route, "panic", a.mask(fmt.Sprint(p)), "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					a.failInternal(rec, "internal error")
				}
			}
			d := time.Since(start)
			a.opts.Metrics.HTTPRequest(route, rec.status(), d)
			if a.log.IsDebug() {
				a.log.Debug("request", "method", r.Method, "route", route, "code", rec.status(), "duration", d)
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
		}()
		h.ServeHTTP(rec, r)
	})
}

// traced starts the server span of a request to route when the API has a
// tracer; the handler's context carries it, so the runs it creates store
// its trace context.
func (a *api) traced(route string, h http.HandlerFunc) http.HandlerFunc {
	if a.opts.Tracer == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracing.StartServer(r.Context(), a.opts.Tracer, route, r.Header)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() { tracing.EndServer(span, rec.status()) }()
		h(rec, r.WithContext(ctx))
	}
}

// requireToken answers 401 unless the request carries the API token.
func (a *api) requireToken(h http.Handler) http.Handler {
	if a.opts.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Values("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			a.fail(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <HERALD_API_TOKEN>")
			return
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
			a.fail(w, http.StatusUnauthorized, "invalid bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of the one Authorization header with the
// Bearer scheme (RFC 6750; the scheme is case-insensitive).
func bearerToken(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on, for handlers that stream (the metrics handler
// may).
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if !s.wroteHeader {
			s.code, s.wroteHeader = http.StatusOK, true
		}
		f.Flush()
	}
}

// status is the code written, 200 when the handler wrote nothing.
func (s *statusRecorder) status() int {
	if !s.wroteHeader {
		return http.StatusOK
	}
	return s.code
}
