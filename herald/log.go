package herald

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/sdk"
)

// LevelTrace is the slog level hclog's trace messages (the plugin protocol's
// chatter) are logged at by an Options.SlogLogger.
const LevelTrace = slog.LevelDebug - 4

// masks holds what a maskedLogger masks: the secrets known before the
// project loads, then also the current project's sensitive values.
type masks struct {
	base    *sdk.Masker
	project atomic.Pointer[func() *sdk.Masker]
}

func (m *masks) String(s string) string {
	s = m.base.String(s)
	if f := m.project.Load(); f != nil {
		s = (*f)().String(s)
	}
	return s
}

// maskedLogger masks secrets in every message and in the string, error and
// Stringer values of the key/value pairs of the logger it wraps. Plugins log
// through it too, so a provider that logs a token logs ***.
type maskedLogger struct {
	hclog.Logger
	m *masks
}

var _ hclog.Logger = maskedLogger{}

func (l maskedLogger) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = l.m.String(v)
		case error:
			out[i] = l.m.String(v.Error())
		case fmt.Stringer:
			out[i] = l.m.String(v.String())
		default:
			out[i] = a
			// A map, list or struct is formatted by the handler, past
			// the masks: when its text holds a secret, log the masked
			// text instead.
			switch reflect.ValueOf(a).Kind() {
			case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer:
				text := fmt.Sprintf("%+v", a)
				if masked := l.m.String(text); masked != text {
					out[i] = masked
				}
			}
		}
	}
	return out
}

func (l maskedLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, l.m.String(msg), l.args(args)...)
}

func (l maskedLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l maskedLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l maskedLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l maskedLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l maskedLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l maskedLogger) With(args ...any) hclog.Logger {
	return maskedLogger{Logger: l.Logger.With(l.args(args)...), m: l.m}
}

func (l maskedLogger) Named(name string) hclog.Logger {
	return maskedLogger{Logger: l.Logger.Named(name), m: l.m}
}

func (l maskedLogger) ResetNamed(name string) hclog.Logger {
	return maskedLogger{Logger: l.Logger.ResetNamed(name), m: l.m}
}

func (l maskedLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l maskedLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return maskedWriter{w: l.Logger.StandardWriter(opts), m: l.m}
}

type maskedWriter struct {
	w io.Writer
	m *masks
}

func (w maskedWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.m.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// slogLogger is an hclog.Logger writing to a slog.Logger.
type slogLogger struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32
}

var _ hclog.Logger = (*slogLogger)(nil)

// newSlogLogger adapts l to hclog; it logs every level l enables.
func newSlogLogger(l *slog.Logger) *slogLogger {
	lv := &atomic.Int32{}
	lv.Store(int32(hclog.Trace))
	return &slogLogger{l: l, level: lv}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (s *slogLogger) enabled(level hclog.Level) bool {
	if level == hclog.Off || level < hclog.Level(s.level.Load()) {
		return false
	}
	return s.l.Enabled(context.Background(), slogLevel(level))
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if !s.enabled(level) {
		return
	}
	attrs := make([]any, 0, len(args)+len(s.implied)+2)
	if s.name != "" {
		attrs = append(attrs, slog.String("logger", s.name))
	}
	attrs = append(attrs, s.implied...)
	attrs = append(attrs, args...)
	s.l.Log(context.Background(), slogLevel(level), msg, attrs...)
}

func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }

func (s *slogLogger) IsTrace() bool { return s.enabled(hclog.Trace) }
func (s *slogLogger) IsDebug() bool { return s.enabled(hclog.Debug) }
func (s *slogLogger) IsInfo() bool  { return s.enabled(hclog.Info) }
func (s *slogLogger) IsWarn() bool  { return s.enabled(hclog.Warn) }
func (s *slogLogger) IsError() bool { return s.enabled(hclog.Error) }

func (s *slogLogger) ImpliedArgs() []any { return s.implied }

func (s *slogLogger) With(args ...any) hclog.Logger {
	c := *s
	c.implied = append(append([]any(nil), s.implied...), args...)
	return &c
}

func (s *slogLogger) Name() string { return s.name }

func (s *slogLogger) Named(name string) hclog.Logger {
	c := *s
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	c := *s
	c.name = name
	return &c
}

// SetLevel sets the least level passed on to the slog.Logger, for this
// logger and those made from it.
func (s *slogLogger) SetLevel(level hclog.Level) { s.level.Store(int32(level)) }

func (s *slogLogger) GetLevel() hclog.Level { return hclog.Level(s.level.Load()) }

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return slogWriter{s: s, level: level}
}

// slogWriter logs each Write as one message.
type slogWriter struct {
	s     *slogLogger
	level hclog.Level
}

func (w slogWriter) Write(p []byte) (int, error) {
	w.s.Log(w.level, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
