package tracing_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/internal/tracing/tracecontext"
)

// BenchmarkRunSpans measures what tracing adds to one run of one step: the
// run, attempt and plugin call spans, and the traceparent carried into the
// plugin's gRPC metadata and onto the provider request. "off" is a nil
// tracer (`herald serve` without OTEL_* settings); "on" records every span
// through a batch processor (its exporter discards them, so the export's
// encoding is left out).
func BenchmarkRunSpans(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	parent := map[string]string{tracecontext.TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	for _, bc := range []struct {
		name string
		tr   trace.Tracer
	}{{"off", nil}, {"on", tracing.Tracer(tp)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx, run := tracing.StartRun(context.Background(), bc.tr, tracing.Run{Workflow: "page", ID: "01JRUN", TriggerKind: "webhook", Attempt: 1, Parent: parent})
				ctx, attempt := tracing.StartAttempt(ctx, bc.tr, tracing.Attempt{Step: "notify", Item: -1, Provider: "chatapi", Action: "send_message", Number: 1})
				ctx, call := tracing.StartCall(ctx, bc.tr, "invoke", "chatapi", "send_message")
				_ = tracecontext.ToOutgoingGRPC(ctx)
				tracing.EndCall(call, "")
				tracing.EndAttempt(attempt, "succeeded", "", "")
				tracing.EndRun(run, "succeeded", "")
			}
		})
	}
}
