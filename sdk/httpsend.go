package sdk

import (
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// sendTrace remembers whether a request was fully written to the provider,
// which decides whether a transport failure leaves the send in doubt.
type sendTrace struct {
	// changes is false for GET and HEAD: repeating them is harmless.
	changes bool
	wrote   atomic.Bool
}

// traceWrites hooks req so that the returned sendTrace learns when the request
// has been fully written, and makes sure net/http never re-sends it itself.
//
// http.Transport retries a request on its own when a reused keep-alive
// connection turns out to be dead, and it counts a POST as safe to retry
// when it carries an Idempotency-Key or X-Idempotency-Key header, even after
// the whole request was written: the provider may have taken the first copy,
// so the silent retry is a duplicate the host never hears of. For a request
// that changes something, the header is therefore kept under its lower-case
// name (HTTP header names are case-insensitive, so the provider reads the
// same header; net/http only looks for the canonical spelling), and GetBody
// is dropped so the body cannot be replayed either. A request that failed
// before anything was written is still retried by net/http, which is safe.
func traceWrites(req *http.Request) *sendTrace {
	t := &sendTrace{changes: req.Method != http.MethodGet && req.Method != http.MethodHead}
	if t.changes {
		for _, name := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
			if v, ok := req.Header[name]; ok {
				delete(req.Header, name)
				req.Header[lowerASCII(name)] = v
			}
		}
		req.GetBody = nil
	}
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.wrote.Store(true)
			}
		},
	}
	*req = *req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	return t
}

// classify returns err as in_doubt when the request changes something and was
// fully written, else as retryable.
func (t *sendTrace) classify(err error) *Error {
	if t.changes && t.wrote.Load() {
		return InDoubt(err)
	}
	return Retryable(err)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
