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
// a request made with it has been fully written (see newSendTrace).
func traceWrites(ctx context.Context, method string, header http.Header) (*sendTrace, context.Context) {
	t := newSendTrace(method, header)
	return t, t.context(ctx)
}

// newSendTrace returns the sendTrace of a request of method with header,
// and makes sure net/http never re-sends that request itself: the caller
// makes the request with a context from the trace's context method (or
// sends it through h1Transport.send, which tells the trace directly) and,
// when the sendTrace's changes is set, drops its GetBody.
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
func newSendTrace(method string, header http.Header) *sendTrace {
	t := &sendTrace{changes: method != http.MethodGet && method != http.MethodHead}
	if t.changes {
		for _, name := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
			if v, ok := header[name]; ok {
				delete(header, name)
				header[lowerASCII(name)] = v
			}
		}
	}
	return t
}

// context returns ctx with the hook net/http calls once a request made
// with it is written.
func (t *sendTrace) context(ctx context.Context) context.Context {
	t.trace.WroteRequest = t.wroteRequest
	return httptrace.WithClientTrace(ctx, &t.trace)
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
