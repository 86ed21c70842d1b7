package main

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/tracing"
)

// tracingShutdownWait bounds how long a command waits at exit for its last
// spans to reach the collector.
const tracingShutdownWait = 5 * time.Second

// startTracing sets opts.Tracer from the OTEL_* environment (tracing.FromEnv)
// and returns the function that flushes the spans at exit. Without OTEL_*
// settings tracing stays off and stop does nothing; settings Herald cannot
// honour are a usage error.
func (a *app) startTracing(ctx context.Context, opts *host.Options) (stop func(), err error) {
	tp, shutdown, err := tracing.FromEnv(ctx, hostVersion())
	if err != nil {
		return nil, &exitCodeError{code: exitUsage, err: err}
	}
	if tp == nil {
		return func() {}, nil
	}
	opts.Tracer = tracing.Tracer(tp)
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingShutdownWait)
		defer cancel()
		if err := shutdown(ctx); err != nil && opts.Logger != nil {
			opts.Logger.Warn("could not export the last spans", "error", err)
		}
	}, nil
}
