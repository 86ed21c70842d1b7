package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
)

// TestProgressNoColor: on a terminal, step and run marks are coloured unless
// NO_COLOR is set; then they are printed without any colour escape.
func TestProgressNoColor(t *testing.T) {
	finished := engine.Event{Type: engine.RunFinished, RunID: "r1", Status: "succeeded", Duration: time.Millisecond}
	for _, tc := range []struct {
		noColor string
		want    string
	}{
		{"", "\033[32m✓\033[0m run r1: succeeded in 1ms\n"},
		{"1", "✓ run r1: succeeded in 1ms\n"},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		var buf bytes.Buffer
		p := newProgress(&buf)
		p.terminal, p.color = true, colorAllowed() // as on a terminal
		p.observe(finished)
		require.Equal(t, tc.want, buf.String(), "NO_COLOR=%q", tc.noColor)
	}
}
