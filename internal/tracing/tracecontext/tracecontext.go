// Package tracecontext carries a W3C Trace Context (the traceparent and
// tracestate headers) between processes: from an incoming HTTP request, into
// a run's stored trigger, over the plugin protocol's gRPC metadata, and onto
// a provider's HTTP request.
//
// It owns propagation only. It starts no span and exports nothing, so the
// SDK (which every plugin links) can import it without pulling in an
// exporter. The map form (Inject, Extract) is the one carrier every
// transport uses: gRPC metadata here, and any frame of a streamed protocol
// that has no per-call metadata.
package tracecontext

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// Header names of the W3C Trace Context, lower case as gRPC metadata keys
// are.
const (
	TraceParent = "traceparent"
	TraceState  = "tracestate"
)

// propagator is the W3C Trace Context. It is fixed, not the process's
// global propagator, so Herald's propagation works whatever an embedder or
// a plugin configures globally.
var propagator propagation.TraceContext

// Inject writes the span context of ctx into carrier and reports whether
// there was one to write. A context without a valid span context writes
// nothing, at the cost of one lookup.
func Inject(ctx context.Context, carrier map[string]string) bool {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return false
	}
	propagator.Inject(ctx, propagation.MapCarrier(carrier))
	return true
}

// Extract returns ctx carrying the remote span context found in carrier,
// or ctx itself when carrier holds none (or a malformed one).
func Extract(ctx context.Context, carrier map[string]string) context.Context {
	if carrier[TraceParent] == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(carrier))
}

// Carrier returns the span context of ctx as a new carrier, or nil when ctx
// has none.
func Carrier(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := make(map[string]string, 2)
	Inject(ctx, c)
	return c
}

// FromHTTP returns ctx carrying the remote span context of an incoming
// request's traceparent and tracestate headers, or ctx itself when the
// request has no traceparent.
func FromHTTP(ctx context.Context, h http.Header) context.Context {
	if h.Get(TraceParent) == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// ToHTTP sets the traceparent (and tracestate) headers of an outgoing
// request from the span context of ctx; without one it leaves h alone.
func ToHTTP(ctx context.Context, h http.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// ToOutgoingGRPC returns ctx with the span context of ctx added to its
// outgoing gRPC metadata, or ctx itself when it has none.
func ToOutgoingGRPC(ctx context.Context) context.Context {
	c := Carrier(ctx)
	if c == nil {
		return ctx
	}
	kv := make([]string, 0, 2*len(c))
	for k, v := range c {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// FromIncomingGRPC returns ctx carrying the remote span context found in
// the incoming gRPC metadata of ctx, or ctx itself when there is none.
func FromIncomingGRPC(ctx context.Context) context.Context {
	// The two keys alone: FromIncomingContext would copy the whole
	// metadata on every call, most of which carry no trace.
	parent := metadata.ValueFromIncomingContext(ctx, TraceParent)
	if len(parent) != 1 {
		return ctx
	}
	c := map[string]string{TraceParent: parent[0]}
	if state := metadata.ValueFromIncomingContext(ctx, TraceState); len(state) == 1 {
		c[TraceState] = state[0]
	}
	return Extract(ctx, c)
}
