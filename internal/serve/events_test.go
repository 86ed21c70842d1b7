package serve

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
)

// An event crosses the channel whole, its error masked and cut so the
// payload stays under PostgreSQL's 8,000 bytes.
func TestFeedEventRoundTrip(t *testing.T) {
	f := &feed{origin: "a/1", mask: func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }}
	ev := engine.Event{Type: engine.AttemptFailed, Time: time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC), RunID: "r1",
		Workflow: "w", StepID: "s", Item: 3, Items: 9, Attempt: 2, Provider: "chatapi", Action: "send_message",
		Class: "retryable", Error: "token hunter2 refused: " + strings.Repeat("é", 6000), Duration: time.Second, RetryIn: 2 * time.Second}
	payload := f.encode(ev)
	require.Less(t, len(payload), 8000)
	require.NotContains(t, payload, "hunter2")
	var got feedEvent
	require.NoError(t, json.Unmarshal([]byte(payload), &got))
	require.Equal(t, "a/1", got.Origin)
	require.True(t, strings.HasPrefix(got.Error, "token *** refused: éé"))
	require.True(t, strings.HasSuffix(got.Error, "é…"), "cut on a rune boundary")
	got.Error, ev.Error = "", ""
	require.Equal(t, ev, got.Event)

	// The listener knows its own events by their first bytes, without
	// decoding them, and only its own.
	require.True(t, f.own(payload))
	other := &feed{origin: "a/10", mask: f.mask}
	require.False(t, other.own(payload))
	require.False(t, f.own(other.encode(ev)))
	quoted := &feed{origin: `a"/1`, mask: f.mask}
	require.True(t, quoted.own(quoted.encode(ev)))
}

// Clusters on two schemas of one database listen on channels of their own,
// each a valid identifier.
func TestFeedChannel(t *testing.T) {
	require.Equal(t, "herald_events_herald", feedChannel("herald"))
	long := feedChannel(strings.Repeat("s", 80))
	require.LessOrEqual(t, len(long), 63)
	require.NotEqual(t, long, feedChannel(strings.Repeat("s", 81)))
}
