package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/tracing/tracecontext"
)

// InstrumentationName names Herald's tracer (the instrumentation scope of
// every span it starts).
const InstrumentationName = "github.com/heraldhq/herald"

// Attribute keys of Herald's spans.
const (
	AttrWorkflow    = attribute.Key("herald.workflow")
	AttrRunID       = attribute.Key("herald.run.id")
	AttrRunAttempt  = attribute.Key("herald.run.attempt")
	AttrTriggerKind = attribute.Key("herald.trigger.kind")
	AttrStatus      = attribute.Key("herald.status")
	AttrStep        = attribute.Key("herald.step")
	AttrItem        = attribute.Key("herald.item")
	AttrProvider    = attribute.Key("herald.provider")
	AttrAction      = attribute.Key("herald.action")
	AttrAttempt     = attribute.Key("herald.attempt")
	AttrOutcome     = attribute.Key("herald.outcome")
	AttrErrorClass  = attribute.Key("herald.error.class")
)

// noopSpan is the span every Start function returns when tracing is off.
var noopSpan = trace.SpanFromContext(context.Background())

// Tracer returns Herald's tracer of tp, or nil (tracing off) for a nil tp.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(InstrumentationName)
}

// Run describes one execution of a run, for its span.
type Run struct {
	Workflow, ID, TriggerKind string
	// Attempt is the run's attempt (run.attempt): 1, then one more for
	// each resume or retry.
	Attempt int
	// Parent is the trace context stored with the run's trigger; each
	// execution of the run continues that trace. Nil starts a new trace
	// unless ctx carries a span.
	Parent map[string]string
}

// StartRun starts the span of one execution of a run.
func StartRun(ctx context.Context, tr trace.Tracer, r Run) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, noopSpan
	}
	ctx = tracecontext.Extract(ctx, r.Parent)
	return tr.Start(ctx, "run "+r.Workflow, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		AttrWorkflow.String(r.Workflow),
		AttrRunID.String(r.ID),
		AttrRunAttempt.Int(r.Attempt),
		AttrTriggerKind.String(r.TriggerKind),
	))
}

// EndRun ends a run's span with the status the execution reached; reason,
// already masked, describes a failure.
func EndRun(span trace.Span, status, reason string) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(AttrStatus.String(status))
	if status == "failed" || status == "needs_attention" {
		span.SetStatus(codes.Error, reason)
	}
	span.End()
}

// Attempt describes one attempt of a step (or of one for_each item).
type Attempt struct {
	Step string
	// Item is the for_each index, negative for a step without for_each.
	Item             int
	Provider, Action string
	// Number counts the step's attempts from 1, across fallbacks.
	Number int
}

// StartAttempt starts the span of one step attempt, a child of the run's.
func StartAttempt(ctx context.Context, tr trace.Tracer, a Attempt) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, noopSpan
	}
	attrs := []attribute.KeyValue{
		AttrStep.String(a.Step),
		AttrProvider.String(a.Provider),
		AttrAction.String(a.Action),
		AttrAttempt.Int(a.Number),
	}
	if a.Item >= 0 {
		attrs = append(attrs, AttrItem.Int(a.Item))
	}
	return tr.Start(ctx, "attempt "+a.Step, trace.WithAttributes(attrs...))
}

// EndAttempt ends an attempt's span with its outcome (succeeded, retryable,
// permanent, rate_limited, in_doubt, canceled) and, for a failure, the
// error class and the masked error message.
func EndAttempt(span trace.Span, outcome, class, message string) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(AttrOutcome.String(outcome))
	if class != "" {
		span.SetAttributes(AttrErrorClass.String(class))
	}
	if outcome != "succeeded" {
		span.SetStatus(codes.Error, message)
	}
	span.End()
}

// StartCall starts the client span of one plugin call: op is "invoke" or
// "webhook". Its context is what the plugin receives, over gRPC metadata or
// in-process, so the plugin's own spans and its provider requests are its
// children.
func StartCall(ctx context.Context, tr trace.Tracer, op, provider, action string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, noopSpan
	}
	name := op + " " + provider
	attrs := []attribute.KeyValue{AttrProvider.String(provider)}
	if action != "" {
		name += "." + action
		attrs = append(attrs, AttrAction.String(action))
	}
	return tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// EndCall ends a plugin call's span; class is the error class of a failed
// call ("" when it succeeded).
func EndCall(span trace.Span, class string) {
	if class != "" && span.IsRecording() {
		span.SetAttributes(AttrErrorClass.String(class))
		span.SetStatus(codes.Error, class)
	}
	span.End()
}

// StartServer starts the server span of an incoming HTTP request that may
// start runs, under route (such as "POST /hooks/{path...}"), continuing the
// trace of the request's traceparent header when it has one.
func StartServer(ctx context.Context, tr trace.Tracer, route string, h http.Header) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, noopSpan
	}
	ctx = tracecontext.FromHTTP(ctx, h)
	method, _, _ := strings.Cut(route, " ")
	return tr.Start(ctx, route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", method),
		attribute.String("http.route", strings.TrimPrefix(route, method+" ")),
	))
}

// EndServer ends a request's span with the response's status code.
func EndServer(span trace.Span, code int) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}
