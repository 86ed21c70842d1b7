// Package storetest is the conformance suite for store.Store. Every
// implementation runs it, so the engine can count on the same behaviour from
// SQLite and PostgreSQL. It goes through the interface only and tests
// behaviour, never storage details: JSON is compared by meaning, times by
// instant.
//
// An implementation's test calls RunWith with a Harness that opens a new,
// empty store for one test, and a second handle on the same data, as a
// second herald process would open it; each is closed with t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunWith(t, storetest.Harness{
//			Open: func(t *testing.T) store.Store {
//				return openAt(t, filepath.Join(t.TempDir(), "herald.db"))
//			},
//			OpenSecond: func(t *testing.T, first store.Store) store.Store {
//				return openAt(t, first.(*sqlitestore.Store).Path())
//			},
//		})
//	}
package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// Harness tells the suite how to open the stores it checks.
type Harness struct {
	// Open opens a new, empty store for one test and closes it with
	// t.Cleanup. It is required.
	Open func(t *testing.T) store.Store
	// OpenSecond opens another Store on the data behind first (the same
	// file, the same schema) as a second herald process would, with its own
	// connections, and closes it with t.Cleanup. When it is nil the
	// TwoHandles tests, which race writes across the two, are skipped.
	OpenSecond func(t *testing.T, first store.Store) store.Store
}

// Run runs the suite against the stores open returns, without the tests
// that need a second handle; see RunWith.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	RunWith(t, Harness{Open: open})
}

// RunWith runs the whole suite against the stores h opens. Every subtest
// opens its own store, so subtests run in parallel.
func RunWith(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	groups := []struct {
		name string
		run  func(*testing.T, func(*testing.T) store.Store)
	}{
		{"Runs", testRuns},
		{"Idempotency", testIdempotency},
		{"Steps", testSteps},
		{"Cron", testCron},
		{"Concurrency", testConcurrency},
		{"Lifecycle", testLifecycle},
		{"History", testHistory},
		{"Deliveries", testDeliveries},
		{"Waits", testWaits},
		{"Commits", testCommits},
		{"Eager", testEager},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, h.Open)
		})
	}
	t.Run("TwoHandles", func(t *testing.T) {
		t.Parallel()
		if h.OpenSecond == nil {
			t.Skip("the harness opens no second handle")
		}
		testTwoHandles(t, h)
	})
}

// base is the time the suite's fixtures start from. It has microsecond
// precision, which every store keeps, and is not in UTC, so the suite sees
// the conversion.
var base = time.Date(2026, time.March, 29, 1, 30, 0, 123456000, time.FixedZone("CET", 3600))

// bundle is what one test works with.
type bundle struct {
	s   store.Store
	ctx context.Context
}

// setup opens a fresh store for t.
func setup(t *testing.T, open func(*testing.T) store.Store) *bundle {
	t.Helper()
	return &bundle{s: open(t), ctx: t.Context()}
}

// newRun returns a valid queued run of workflow created at base+offset.
func newRun(workflow string, offset time.Duration) store.Run {
	return store.Run{
		ID:        store.NewRunID(),
		Workflow:  workflow,
		Status:    store.StatusQueued,
		Trigger:   json.RawMessage(`{"kind":"manual","body":{"recipients":[{"phone":"14155550123"}]}}`),
		CreatedAt: base.Add(offset),
	}
}

// create stores run without an idempotency key and returns what was stored.
func (b *bundle) create(t *testing.T, run store.Run) store.Run {
	t.Helper()
	got, existed, err := b.s.CreateRun(b.ctx, run, "", 0)
	require.NoError(t, err)
	require.False(t, existed)
	return got
}

// requireRun fails t unless got holds what want does.
func requireRun(t *testing.T, want, got store.Run) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.Workflow, got.Workflow)
	require.Equal(t, want.Status, got.Status)
	requireJSON(t, want.Trigger, got.Trigger)
	requireJSON(t, want.Inputs, got.Inputs)
	require.Equal(t, want.Attempt, got.Attempt)
	require.Equal(t, want.Owner, got.Owner)
	require.Equal(t, want.Error, got.Error)
	requireTime(t, want.CreatedAt, got.CreatedAt)
	requireTime(t, want.StartedAt, got.StartedAt)
	requireTime(t, want.FinishedAt, got.FinishedAt)
}

// requireTime fails t unless got is the instant want is, in UTC, or both are
// zero.
func requireTime(t *testing.T, want, got time.Time) {
	t.Helper()
	if want.IsZero() {
		require.True(t, got.IsZero(), "want the zero time, got %s", got)
		return
	}
	require.True(t, want.Equal(got), "want %s, got %s", want.UTC(), got)
	require.Equal(t, time.UTC, got.Location(), "times come back in UTC")
}

// requireJSON fails t unless got means what want does, or both are empty.
func requireJSON(t *testing.T, want, got json.RawMessage) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, got)
		return
	}
	require.JSONEq(t, string(want), string(got))
}

// ids returns the IDs of runs, in order.
func ids(runs []store.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}
