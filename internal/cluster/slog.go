package cluster

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newSlogger returns a slog.Logger, which River logs to, that writes to an
// hclog.Logger. River's info messages are routine, so they appear at debug.
func newSlogger(l hclog.Logger) *slog.Logger {
	return slog.New(&slogHandler{log: l})
}

// slogHandler is a slog.Handler writing to hclog.
type slogHandler struct {
	log   hclog.Logger
	attrs []any
	group string
}

// Enabled reports whether the hclog logger takes records of level.
func (h *slogHandler) Enabled(_ context.Context, level slog.Level) bool {
	switch {
	case level >= slog.LevelError:
		return h.log.IsError()
	case level >= slog.LevelWarn:
		return h.log.IsWarn()
	default:
		return h.log.IsDebug()
	}
}

// Handle writes one record.
func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, h.key(a.Key), a.Value.Resolve().Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.log.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.log.Warn(r.Message, args...)
	default:
		h.log.Debug(r.Message, args...)
	}
	return nil
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]any(nil), h.attrs...)
	for _, a := range attrs {
		n.attrs = append(n.attrs, h.key(a.Key), a.Value.Resolve().Any())
	}
	return &n
}

// WithGroup returns a handler that prefixes later keys with name.
func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.key(name)
	return &n
}

func (h *slogHandler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}
