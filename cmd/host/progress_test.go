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

// TestProgressShowsETA: a long for_each prints its progress with the time
// left at the pace so far: live on a terminal, every 10 seconds otherwise.
func TestProgressShowsETA(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	events := []engine.Event{{Type: engine.StepStarted, StepID: "each", Provider: "wa", Action: "send", Items: 1000, Item: -1, Time: t0}}
	for i := range 100 {
		events = append(events, engine.Event{Type: engine.ItemFinished, StepID: "each", Item: i, Status: "succeeded", Time: t0.Add(time.Duration(i+1) * 200 * time.Millisecond)})
	}
	var plain bytes.Buffer
	p := newProgress(&plain)
	for _, ev := range events {
		p.observe(ev)
	}
	require.Equal(t, "step each: wa.send for 1000 items\n"+
		"  step each: 50/1000 items done, 0 failed, eta 3m10s\n"+
		"  step each: 100/1000 items done, 0 failed, eta 3m0s\n", plain.String(),
		"at 5 items a second, 950 items take 3m10s")

	var term bytes.Buffer
	p = newProgress(&term)
	p.terminal = true
	for _, ev := range events[:3] {
		p.observe(ev)
	}
	require.Equal(t, "step each: wa.send for 1000 items\n"+
		"\r\033[K  1/1000 items done, 0 failed, eta 3m20s"+
		"\r\033[K  2/1000 items done, 0 failed, eta 3m20s", term.String())
}
