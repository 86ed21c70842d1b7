package main

import (
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// newHostLogger returns the host logger: level from HERALD_LOG_LEVEL (def
// when unset), text or JSON by HERALD_LOG_FORMAT, to w. Durations print as
// Go duration strings in both formats.
func newHostLogger(w io.Writer, def hclog.Level) hclog.Logger {
	return durationLogger{hclog.New(&hclog.LoggerOptions{
		Name:       "herald",
		Level:      logLevel(def),
		Output:     w,
		JSONFormat: os.Getenv("HERALD_LOG_FORMAT") == "json",
	})}
}

// durationLogger logs time.Duration values as Go duration strings ("250ms",
// "1.5s"): hclog's text format already does, but its JSON format would print
// nanoseconds. One form for every duration, in every format, is what
// docs/operations.md promises.
type durationLogger struct{ hclog.Logger }

var _ hclog.Logger = durationLogger{}

func (l durationLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, durationStrings(args)...)
}

func (l durationLogger) Trace(msg string, args ...any) {
	l.Logger.Trace(msg, durationStrings(args)...)
}

func (l durationLogger) Debug(msg string, args ...any) {
	l.Logger.Debug(msg, durationStrings(args)...)
}

func (l durationLogger) Info(msg string, args ...any) { l.Logger.Info(msg, durationStrings(args)...) }
func (l durationLogger) Warn(msg string, args ...any) { l.Logger.Warn(msg, durationStrings(args)...) }

func (l durationLogger) Error(msg string, args ...any) {
	l.Logger.Error(msg, durationStrings(args)...)
}

func (l durationLogger) With(args ...any) hclog.Logger {
	return durationLogger{l.Logger.With(durationStrings(args)...)}
}

func (l durationLogger) Named(name string) hclog.Logger {
	return durationLogger{l.Logger.Named(name)}
}

func (l durationLogger) ResetNamed(name string) hclog.Logger {
	return durationLogger{l.Logger.ResetNamed(name)}
}

// durationStrings returns args with every time.Duration value as its
// String(); args without one are returned as they are.
func durationStrings(args []any) []any {
	var out []any
	for i := 1; i < len(args); i += 2 {
		d, ok := args[i].(time.Duration)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = d.String()
	}
	if out == nil {
		return args
	}
	return out
}
