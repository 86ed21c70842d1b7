package tracecontext_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/heraldhq/herald/internal/tracing/tracecontext"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestMapCarrierRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := tracecontext.Extract(context.Background(), map[string]string{
		tracecontext.TraceParent: parent, tracecontext.TraceState: "vendor=x",
	})
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsRemote())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", sc.SpanID().String())
	require.Equal(t, map[string]string{tracecontext.TraceParent: parent, tracecontext.TraceState: "vendor=x"}, tracecontext.Carrier(ctx))
}

func TestNoSpanContextWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := map[string]string{}
	require.False(t, tracecontext.Inject(ctx, c))
	require.Empty(t, c)
	require.Nil(t, tracecontext.Carrier(ctx))
	h := http.Header{}
	tracecontext.ToHTTP(ctx, h)
	require.Empty(t, h)
	_, ok := metadata.FromOutgoingContext(tracecontext.ToOutgoingGRPC(ctx))
	require.False(t, ok)
	require.Equal(t, ctx, tracecontext.Extract(ctx, nil))
}

func TestMalformedTraceparentIsIgnored(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		ctx := tracecontext.Extract(context.Background(), map[string]string{tracecontext.TraceParent: bad})
		require.False(t, trace.SpanContextFromContext(ctx).IsValid(), bad)
	}
}

func TestHTTPAndGRPCMetadata(t *testing.T) {
	t.Parallel()
	in := http.Header{}
	in.Set("Traceparent", parent)
	ctx := tracecontext.FromHTTP(context.Background(), in)
	out := http.Header{}
	tracecontext.ToHTTP(ctx, out)
	require.Equal(t, parent, out.Get("traceparent"))

	md, ok := metadata.FromOutgoingContext(tracecontext.ToOutgoingGRPC(ctx))
	require.True(t, ok)
	require.Equal(t, []string{parent}, md.Get("traceparent"))
	// What the plugin's server sees.
	server := metadata.NewIncomingContext(context.Background(), md)
	got := trace.SpanContextFromContext(tracecontext.FromIncomingGRPC(server))
	require.Equal(t, trace.SpanContextFromContext(ctx).TraceID(), got.TraceID())
	require.Equal(t, trace.SpanContextFromContext(ctx).SpanID(), got.SpanID())
	// Two traceparents are ambiguous: none is taken.
	two := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", parent, "traceparent", parent))
	require.False(t, trace.SpanContextFromContext(tracecontext.FromIncomingGRPC(two)).IsValid())
}

// FuzzExtract feeds arbitrary traceparent and tracestate values (they come
// from any webhook sender): extraction never panics, and what it accepts
// injects back to a well-formed, valid header.
func FuzzExtract(f *testing.F) {
	f.Add(parent, "vendor=x")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "a=1,b=2")
	f.Add("garbage", "=,=")
	f.Fuzz(func(t *testing.T, p, s string) {
		ctx := tracecontext.Extract(context.Background(), map[string]string{tracecontext.TraceParent: p, tracecontext.TraceState: s})
		sc := trace.SpanContextFromContext(ctx)
		c := tracecontext.Carrier(ctx)
		if !sc.IsValid() {
			require.Nil(t, c)
			return
		}
		require.Len(t, c[tracecontext.TraceParent], 55)
		again := trace.SpanContextFromContext(tracecontext.Extract(context.Background(), c))
		require.Equal(t, sc.TraceID(), again.TraceID())
		require.Equal(t, sc.SpanID(), again.SpanID())
	})
}
