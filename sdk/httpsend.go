package sdk

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// sendTrace remembers whether a request was fully written to the provider,
// which decides whether a transport failure leaves the send in doubt.
type sendTrace struct {
	// trace is the hook the request's context carries.
	trace httptrace.ClientTrace
	// changes is false for GET and HEAD: repeating them is harmless.
	changes bool
	wrote   atomic.Bool
}

// traceWrites returns ctx with a hook that tells the returned sendTrace when
// a request made with it has been fully written, and makes sure net/http
// never re-sends a request of method with header itself: the caller makes
// the request with the returned context and, when the sendTrace's changes
// is set, drops its GetBody.
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
func traceWrites(ctx context.Context, method string, header http.Header) (*sendTrace, context.Context) {
	t := &sendTrace{changes: method != http.MethodGet && method != http.MethodHead}
	if t.changes {
		for _, name := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
			if v, ok := header[name]; ok {
				delete(header, name)
				header[lowerASCII(name)] = v
			}
		}
	}
	t.trace.WroteRequest = t.wroteRequest
	return t, httptrace.WithClientTrace(ctx, &t.trace)
}

// wroteRequest is the hook net/http calls once the request is written.
func (t *sendTrace) wroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		t.wrote.Store(true)
	}
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
