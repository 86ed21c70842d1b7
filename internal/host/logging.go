package host

import (
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/sdk"
)

// MaskedWriter masks secrets in everything written through it. The secrets
// can be replaced while it is in use: the host learns the sensitive config
// values only once the project has loaded.
type MaskedWriter struct {
	w      io.Writer
	masker atomic.Pointer[sdk.Masker]
}

// NewMaskedWriter returns a MaskedWriter writing to w.
func NewMaskedWriter(w io.Writer, secrets ...string) *MaskedWriter {
	mw := &MaskedWriter{w: w}
	mw.SetSecrets(secrets...)
	return mw
}

// SetSecrets replaces the values masked.
func (mw *MaskedWriter) SetSecrets(secrets ...string) {
	mw.masker.Store(sdk.NewMasker(secrets...))
}

// Write masks p and writes it. hclog writes a whole line per call, so a
// secret is never split across calls.
func (mw *MaskedWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(mw.w, mw.masker.Load().String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// NewLogger returns the host logger: level from HERALD_LOG_LEVEL (default
// info), text or JSON by HERALD_LOG_FORMAT, written through mw.
func NewLogger(name string, mw *MaskedWriter) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("HERALD_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		Output:     mw,
		JSONFormat: strings.EqualFold(os.Getenv("HERALD_LOG_FORMAT"), "json"),
	})
}
