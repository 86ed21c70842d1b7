package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/scheduler/clocktest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/internal/timers"
	"github.com/heraldhq/herald/sdk"
)

const windowWorkflows = `
workflow "notify" {
  step "send" {
    uses = "primary.send"
    with = { to = "office" }
    window {
      days     = "MON-FRI"
      hours    = "08:00-21:00"
      timezone = "Europe/Berlin"
    }
  }
}
workflow "quiet" {
  step "send" {
    uses = "primary.send"
    with = { to = "office" }
    window {
      days     = "MON-FRI"
      hours    = "08:00-21:00"
      timezone = "Europe/Berlin"
      outside  = "skip"
    }
  }
  step "after" {
    uses = "primary.send"
    with = { to = "{{ steps.send.status }}" }
  }
}
workflow "blast" {
  step "each" {
    for_each = "{{ trigger.body.people }}"
    uses     = "primary.send"
    with     = { to = "{{ item.name }}" }
    window {
      hours    = "09:00-17:00"
      timezone = "{{ item.tz }}"
    }
  }
}
workflow "night" {
  step "send" {
    uses = "primary.send"
    with = { to = "night" }
    window {
      hours    = "02:30-04:00"
      timezone = "Europe/Berlin"
    }
  }
}
`

// saturdayNoon is outside MON-FRI 08:00-21:00 in Berlin; the window next
// opens on Monday 2026-12-07 08:00 CET, 07:00 UTC.
var (
	saturdayNoon  = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	mondayOpening = time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
)

// clockEngine returns an engine on b's project and store whose clock is now.
func clockEngine(t *testing.T, b *bundle, st store.Store, now func() time.Time, onPark func(store.Wait)) *engine.Engine {
	t.Helper()
	p := b.engine.Project()
	srv := sdk.NewServer(b.fake, nil)
	for name, prov := range p.Providers {
		raw, err := json.Marshal(prov.Config)
		require.NoError(t, err)
		require.NoError(t, srv.Configure(context.Background(), name, raw))
	}
	e, err := engine.New(engine.Options{Project: p, Store: st, Now: now, OnPark: onPark,
		Client: func(context.Context, string) (sdk.Client, error) { return srv, nil }})
	require.NoError(t, err)
	return e
}

// resumeAt moves the clock to at, fires the wait of key as the host's timers
// would, and executes the run it requeued.
func resumeAt(t *testing.T, e *engine.Engine, clk *clocktest.Clock, key engine.WaitKey, at time.Time) store.Run {
	t.Helper()
	ctx := context.Background()
	clk.Set(at)
	requeued, err := e.ResolveTimeout(ctx, key)
	require.NoError(t, err)
	require.True(t, requeued)
	run, err := e.Execute(ctx, key.RunID)
	require.NoError(t, err)
	return run
}

func windowKey(runID, step string, round int) engine.WaitKey {
	return engine.WaitKey{RunID: runID, StepID: step, Item: round}
}

func TestWindowDelaysASendToTheOpening(t *testing.T) {
	t.Parallel()
	b := setup(t, windowWorkflows)
	clk := clocktest.New(saturdayNoon)
	e := clockEngine(t, b, b.store, clk.Now, nil)
	ctx := context.Background()

	run, err := e.Run(ctx, "notify", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	require.Equal(t, "step send waits: outside send window MON-FRI 08:00-21:00 Europe/Berlin (next opening 2026-12-07T08:00:00+01:00)", run.Reason)
	w, err := b.store.(store.Waits).GetWait(ctx, windowKey(run.ID, "send", store.NoItem))
	require.NoError(t, err)
	require.Equal(t, mondayOpening, w.Deadline.UTC())
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.Equal(t, "waiting", v.Steps[0].Status)

	// Executing it again before the opening sends nothing.
	clk.Set(mondayOpening.Add(-time.Second))
	run, err = e.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status)
	require.Empty(t, b.fake.Calls())

	run = resumeAt(t, e, clk, windowKey(run.ID, "send", store.NoItem), mondayOpening)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
	require.Len(t, b.fake.Calls(), 1)
}

func TestWindowSkipsWithItsReason(t *testing.T) {
	t.Parallel()
	b := setup(t, windowWorkflows)
	e := clockEngine(t, b, b.store, clocktest.New(saturdayNoon).Now, nil)
	ctx := context.Background()
	run, err := e.Run(ctx, "quiet", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	require.Equal(t, "skipped", v.Steps[0].Status)
	require.Equal(t, "outside send window MON-FRI 08:00-21:00 Europe/Berlin (next opening 2026-12-07T08:00:00+01:00)", v.Steps[0].Reason)
	calls := b.fake.Calls()
	require.Len(t, calls, 1, "only the step after it sent")
	require.Equal(t, "skipped", calls[0].Input["to"])
}

func TestWindowHoldsEachItemToItsOwnTimezone(t *testing.T) {
	t.Parallel()
	b := setup(t, windowWorkflows)
	holdsEachItemToItsOwnTimezone(t, b, b.store)
}

// TestWindowHoldsEachItemOnPostgreSQL runs the same on a PostgreSQL store.
func TestWindowHoldsEachItemOnPostgreSQL(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	st, err := pgstore.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	holdsEachItemToItsOwnTimezone(t, setup(t, windowWorkflows), st)
}

// holdsEachItemToItsOwnTimezone sends a for_each whose items are in
// different zones on st: each goes out in its own hours, once, over two
// parks; an item whose zone is no IANA name fails.
func holdsEachItemToItsOwnTimezone(t *testing.T, b *bundle, st store.Store) {
	// Monday 10:00 UTC: 11:00 in Berlin (inside 09:00-17:00), 02:00 in Los
	// Angeles (outside until 09:00 PST, 17:00 UTC).
	monday := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	laOpening := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	clk := clocktest.New(monday)
	e := clockEngine(t, b, st, clk.Now, nil)
	ctx := context.Background()
	people := []any{
		map[string]any{"name": "berlin", "tz": "Europe/Berlin"},
		map[string]any{"name": "la", "tz": "America/Los_Angeles"},
		map[string]any{"name": "mars", "tz": "Mars/Olympus"},
		map[string]any{"name": "tokyo", "tz": "Asia/Tokyo"},
	}
	run, err := e.Run(ctx, "blast", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"people": people}})
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	require.Equal(t, "step each: 2 of 4 items wait for their send window * 09:00-17:00; the first opens 2026-12-07T17:00:00Z", run.Reason)
	require.Equal(t, []string{"berlin"}, sentTo(b.fake.Calls()), "the item inside its window went out at once")
	v, err := engine.View(ctx, st, run.ID)
	require.NoError(t, err)
	mars := itemAt(t, v.Steps[0].Items, 2)
	require.Equal(t, "failed", mars.Status)
	require.Equal(t, `window timezone: unknown timezone "Mars/Olympus": use an IANA name such as Europe/Berlin`, mars.Error)

	run = resumeAt(t, e, clk, windowKey(run.ID, "each", store.NoItem), laOpening)
	require.Equal(t, store.StatusWaiting, run.Status, "Tokyo's window opens later")
	require.Equal(t, "step each: 1 of 4 items wait for their send window * 09:00-17:00; the first opens 2026-12-08T00:00:00Z", run.Reason)
	require.Equal(t, []string{"berlin", "la"}, sentTo(b.fake.Calls()))

	// The second park is a wait of its own: the first is resolved.
	tokyoOpening := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	w, err := st.(store.Waits).GetWait(ctx, windowKey(run.ID, "each", 0))
	require.NoError(t, err)
	require.Equal(t, tokyoOpening, w.Deadline.UTC())
	run = resumeAt(t, e, clk, windowKey(run.ID, "each", 0), tokyoOpening)
	require.Equal(t, store.StatusFailed, run.Status, "the item with no valid zone fails the step")
	require.Equal(t, []string{"berlin", "la", "tokyo"}, sentTo(b.fake.Calls()), "each sent once, in its own hours")
}

func itemAt(t *testing.T, items []engine.ItemView, index int) engine.ItemView {
	t.Helper()
	for _, it := range items {
		if it.Index == index {
			return it
		}
	}
	t.Fatalf("no item %d in %+v", index, items)
	return engine.ItemView{}
}

func sentTo(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Input["to"].(string))
	}
	return out
}

func TestWindowOpeningInASpringForwardGapOpensAtTheNextValidInstant(t *testing.T) {
	t.Parallel()
	b := setup(t, windowWorkflows)
	// Berlin springs forward on 2027-03-28 from 02:00 CET to 03:00 CEST:
	// 02:30 does not exist that day, so the window opens at 03:00 CEST.
	clk := clocktest.New(time.Date(2027, 3, 28, 0, 30, 0, 0, time.UTC))
	e := clockEngine(t, b, b.store, clk.Now, nil)
	ctx := context.Background()
	run, err := e.Run(ctx, "night", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	require.Contains(t, run.Reason, "(next opening 2027-03-28T03:00:00+02:00)")
	w, err := b.store.(store.Waits).GetWait(ctx, windowKey(run.ID, "send", store.NoItem))
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC), w.Deadline.UTC())

	run = resumeAt(t, e, clk, windowKey(run.ID, "send", store.NoItem), w.Deadline)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
	require.Len(t, b.fake.Calls(), 1)
}

// TestWindowDelayOutlivesARestart parks a run for its window, then starts a
// new engine on the same SQLite file whose timers, loaded from the store,
// resume it at the opening: it sends once, never before.
func TestWindowDelayOutlivesARestart(t *testing.T) {
	t.Parallel()
	b := setup(t, windowWorkflows)
	ctx := context.Background()
	first := clockEngine(t, b, b.store, clocktest.New(saturdayNoon).Now, nil)
	run, err := first.Run(ctx, "notify", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)

	// The restarted host: another store on the file, another engine, its
	// timers loaded from the pending waits.
	st, err := sqlitestore.Open(ctx, b.dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(saturdayNoon.Add(time.Hour))
	var tm *timers.Timers
	second := clockEngine(t, b, st, clk.Now, func(w store.Wait) { tm.Set(timers.Key{RunID: w.RunID, StepID: w.StepID, Item: w.Item}, w.Deadline) })
	var executions atomic.Int32
	done := make(chan store.Run, 1)
	tm = timers.New(func(ctx context.Context, k timers.Key, _ time.Time) {
		requeued, err := second.ResolveTimeout(ctx, engine.WaitKey{RunID: k.RunID, StepID: k.StepID, Item: k.Item})
		if err != nil || !requeued {
			return
		}
		executions.Add(1)
		r, err := second.Execute(ctx, k.RunID)
		if err == nil {
			done <- r
		}
	}, timers.Options{Clock: clk})
	pending, err := st.PendingWaits(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	for _, w := range pending {
		tm.Set(timers.Key{RunID: w.RunID, StepID: w.StepID, Item: w.Item}, w.Deadline)
	}
	tctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go tm.Run(tctx)

	clk.Set(mondayOpening.Add(-time.Second))
	require.Eventually(t, func() bool { return clk.Timers() > 0 }, 10*time.Second, time.Millisecond)
	require.Empty(t, b.fake.Calls(), "nothing goes out before the opening")
	clk.Set(mondayOpening)
	select {
	case r := <-done:
		require.Equal(t, store.StatusSucceeded, r.Status, r.Reason)
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not resume at the opening")
	}
	// A second firing (another replica, another restart) changes nothing.
	requeued, err := second.ResolveTimeout(ctx, windowKey(run.ID, "send", store.NoItem))
	require.NoError(t, err)
	require.False(t, requeued)
	require.Equal(t, int32(1), executions.Load())
	calls := b.fake.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, run.ID+"/send", calls[0].Key)
}

func TestWindowSkipsOnlyTheItemsOutside(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "digest" {
  step "each" {
    for_each = "{{ trigger.body.people }}"
    uses     = "primary.send"
    with     = { to = "{{ item.name }}" }
    window {
      days     = "MON-FRI"
      timezone = "{{ item.tz }}"
      outside  = "skip"
    }
  }
}`)
	// Monday 2026-12-07 03:00 UTC is still Sunday in Los Angeles.
	e := clockEngine(t, b, b.store, clocktest.New(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)).Now, nil)
	ctx := context.Background()
	people := []any{map[string]any{"name": "la", "tz": "America/Los_Angeles"}, map[string]any{"name": "berlin", "tz": "Europe/Berlin"}}
	run, err := e.Run(ctx, "digest", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"people": people}})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status, run.Reason)
	require.Equal(t, []string{"berlin"}, sentTo(b.fake.Calls()))
	v, err := engine.View(ctx, b.store, run.ID)
	require.NoError(t, err)
	la := itemAt(t, v.Steps[0].Items, 0)
	require.Equal(t, "skipped", la.Status)
	require.Equal(t, "outside send window MON-FRI 00:00-24:00 America/Los_Angeles (next opening 2026-12-07T00:00:00-08:00)", la.Reason)
}

// TestWindowClosingWhileASendWaitsForItsRateHoldsIt paces a for_each at 1/s
// with the clock running 600 times faster than the wall: the first item
// goes out before 21:00, the second waits its turn past the close and must
// not go out.
func TestWindowClosingWhileASendWaitsForItsRateHoldsIt(t *testing.T) {
	t.Parallel()
	b := setup(t, `
provider "paced" {
  type       = "fake"
  config     = { token = "paced" }
  rate_limit = "1/s"
}
workflow "evening" {
  step "each" {
    for_each = "{{ ['first', 'second'] }}"
    uses     = "paced.send"
    with     = { to = "{{ item }}" }
    window {
      hours    = "08:00-21:00"
      timezone = "UTC"
    }
  }
}`)
	base := time.Date(2026, 12, 7, 20, 52, 0, 0, time.UTC)
	start := time.Now()
	e := clockEngine(t, b, b.store, func() time.Time { return base.Add(time.Since(start) * 600) }, nil)
	run, err := e.Run(context.Background(), "evening", engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	require.Equal(t, []string{"first"}, sentTo(b.fake.Calls()), "the second item's turn came after 21:00")
	require.Equal(t, store.StatusWaiting, run.Status, run.Reason)
	require.Contains(t, run.Reason, "1 of 2 items wait for their send window * 08:00-21:00; the first opens 2026-12-08T08:00:00Z")
}
