// Package tracing owns Herald's OpenTelemetry spans: one per run execution,
// per step attempt and per plugin call, with the attributes operators filter
// on (workflow, run id, step, item, provider, action, attempt, outcome), and
// the tracer provider a herald process builds from the standard OTEL_*
// environment variables.
//
// It never records a secret: attributes are names, ids, numbers and
// classes, and the only free text (an attempt's error) is the message the
// engine has already masked. Propagation between processes lives in the
// leaf package tracecontext, which the plugin SDK imports without this
// package's exporters.
//
// A nil trace.Tracer means tracing is off: every Start function then returns
// its context unchanged and a no-op span, without allocating.
package tracing
