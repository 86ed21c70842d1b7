package engine

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/sdk"
)

// startRun starts the span of one execution of run. Every execution (the
// first, a resume on any host, a retry) continues the trace stored with the
// run's trigger, so one trace holds the request that started the run and
// everything the run did since.
func (e *Engine) startRun(ctx context.Context, run store.Run) (context.Context, trace.Span) {
	if e.opts.Tracer == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	trig, _ := DecodeTrigger(run.Trigger)
	return tracing.StartRun(ctx, e.opts.Tracer, tracing.Run{
		Workflow: run.Workflow, ID: run.ID, TriggerKind: trig.Kind, Attempt: run.Attempt, Parent: trig.TraceContext,
	})
}

// endRun ends a run execution's span with the run's status, "interrupted"
// when the execution stopped before the run ended.
func endRun(span trace.Span, run store.Run, err error) {
	status := string(run.Status)
	switch {
	case errors.Is(err, ErrInterrupted):
		status = "interrupted"
	case err != nil:
		status = "error"
	}
	reason := run.Reason
	if err != nil {
		reason = "" // an error text is not masked here; the status says enough
	}
	tracing.EndRun(span, status, reason)
}

// errorClass is the class of a failed plugin call, "" for none.
func errorClass(err error) string {
	if err == nil {
		return ""
	}
	return string(sdk.AsError(err).Class)
}
