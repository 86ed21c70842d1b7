package serve

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/pgstore"
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

// A lone replica notifies none of its events, and one that starts
// listening on the same schema gets the first replica's events from then
// on: its hello makes the first share again before it counts listeners.
func TestFeedSendsOnlyWhenAnotherReplicaListens(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	ctx := context.Background()
	st, err := pgstore.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	nomask := func(s string) string { return s }
	ev := engine.Event{Type: engine.RunFinished, RunID: "r1", Workflow: "w"}

	a := startFeed(st, "a/1", &hub{}, nomask, hclog.NewNullLogger())
	t.Cleanup(a.close)
	require.Eventually(t, func() bool { return a.listenPID.Load() != 0 }, 10*time.Second, 10*time.Millisecond)
	for range 3 {
		a.publish(ev)
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	require.Zero(t, a.sent.Load(), "nobody else listens")

	got := make(chan engine.Event, 16)
	bHub := &hub{}
	bHub.subscribe(func(e engine.Event) { got <- e })
	b := startFeed(st, "b/1", bHub, nomask, hclog.NewNullLogger())
	t.Cleanup(b.close)
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.alone
	}, 10*time.Second, 10*time.Millisecond, "b's hello reached a")
	// Within feedCheck of the last count: sent on the hello alone.
	a.publish(ev)
	select {
	case e := <-got:
		require.Equal(t, "r1", e.RunID)
	case <-time.After(10 * time.Second):
		t.Fatal("b never got a's event")
	}
	require.Eventually(t, func() bool { return a.sent.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
}
