package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testRuns checks creating, reading, listing and updating runs.
func testRuns(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("CreateAndGetKeepEveryField", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := store.Run{
			ID:        store.NewRunID(),
			Workflow:  "oncall-digest",
			Status:    store.StatusRunning,
			Trigger:   json.RawMessage(`{"kind":"cron","time":"2026-03-29T07:00:00Z","scheduled_time":"2026-03-29T07:00:00Z","headers":{},"query":{}}`),
			Inputs:    json.RawMessage(`{"vars":{"phone":"14155550123","team":"ops"}}`),
			Attempt:   2,
			Owner:     "host-a/4242",
			Error:     "previous attempt was interrupted",
			CreatedAt: base,
			StartedAt: base.Add(time.Second),
		}
		created := b.create(t, run)
		requireRun(t, run, created)

		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, run, got)
	})

	t.Run("TimesComeBackInUTCToTheMicrosecond", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := newRun("w", 0)
		run.CreatedAt = time.Date(2026, time.October, 25, 2, 30, 0, 123456789, time.FixedZone("IST", 5*3600+1800))
		run.FinishedAt = run.CreatedAt.Add(time.Minute)
		b.create(t, run)

		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, time.UTC, got.CreatedAt.Location())
		require.WithinDuration(t, run.CreatedAt, got.CreatedAt, time.Microsecond)
		require.WithinDuration(t, run.FinishedAt, got.FinishedAt, time.Microsecond)
		require.True(t, got.StartedAt.IsZero())
	})

	t.Run("EmptyJSONStaysEmpty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := newRun("w", 0)
		run.Trigger = nil
		b.create(t, run)
		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Empty(t, got.Trigger)
		require.Empty(t, got.Inputs)
	})

	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.s.GetRun(b.ctx, "no-such-run")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("TakenIDIsConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.create(t, newRun("first", 0))
		again := newRun("second", time.Minute)
		again.ID = first.ID
		_, _, err := b.s.CreateRun(b.ctx, again, "", 0)
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.s.GetRun(b.ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, "first", got.Workflow)
	})

	t.Run("InvalidRunsAreRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		tests := map[string]func(*store.Run){
			"empty id":         func(r *store.Run) { r.ID = "" },
			"empty workflow":   func(r *store.Run) { r.Workflow = "" },
			"empty status":     func(r *store.Run) { r.Status = "" },
			"unknown status":   func(r *store.Run) { r.Status = "paused" },
			"zero created":     func(r *store.Run) { r.CreatedAt = time.Time{} },
			"negative attempt": func(r *store.Run) { r.Attempt = -1 },
			"trigger not json": func(r *store.Run) { r.Trigger = json.RawMessage(`{"kind":`) },
			"inputs not json":  func(r *store.Run) { r.Inputs = json.RawMessage(`vars`) },
		}
		for name, breakRun := range tests {
			run := newRun("w", 0)
			breakRun(&run)
			_, _, err := b.s.CreateRun(b.ctx, run, "", 0)
			require.ErrorIs(t, err, store.ErrInvalid, name)
		}
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.Empty(t, runs, "no invalid run was stored")
	})

	t.Run("ListIsNewestFirst", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		byAge := make([]store.Run, 5)
		for _, i := range []int{2, 0, 4, 1, 3} {
			byAge[i] = b.create(t, newRun("w", time.Duration(i)*time.Minute))
		}
		// Two runs created in the same microsecond sort by ID.
		tieLow, tieHigh := newRun("w", 10*time.Minute), newRun("w", 10*time.Minute)
		tieLow.ID, tieHigh.ID = "tie-a", "tie-b"
		b.create(t, tieHigh)
		b.create(t, tieLow)

		got, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		want := []string{"tie-b", "tie-a"}
		for i := len(byAge) - 1; i >= 0; i-- {
			want = append(want, byAge[i].ID)
		}
		require.Equal(t, want, ids(got))
		requireRun(t, byAge[0], got[len(got)-1])
	})

	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		mk := func(workflow string, status store.Status, minute int) string {
			r := newRun(workflow, time.Duration(minute)*time.Minute)
			r.Status = status
			return b.create(t, r).ID
		}
		aQueued := mk("a", store.StatusQueued, 0)
		aFailed := mk("a", store.StatusFailed, 1)
		bFailed := mk("b", store.StatusFailed, 2)
		aFailed2 := mk("a", store.StatusFailed, 3)

		list := func(f store.RunFilter) []string {
			t.Helper()
			runs, err := b.s.ListRuns(b.ctx, f)
			require.NoError(t, err)
			return ids(runs)
		}
		require.Equal(t, []string{aFailed2, aFailed, aQueued}, list(store.RunFilter{Workflow: "a"}))
		require.Equal(t, []string{aFailed2, bFailed, aFailed}, list(store.RunFilter{Status: store.StatusFailed}))
		require.Equal(t, []string{aFailed2, aFailed}, list(store.RunFilter{Workflow: "a", Status: store.StatusFailed}))
		require.Equal(t, []string{aFailed2, bFailed}, list(store.RunFilter{Limit: 2}))
		require.Empty(t, list(store.RunFilter{Workflow: "c"}))
		require.Empty(t, list(store.RunFilter{Status: store.StatusSkipped}))
	})

	t.Run("ListPagesWithBefore", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		for i := range 7 {
			b.create(t, newRun("other", time.Duration(i)*time.Minute+time.Second))
			want = append([]string{b.create(t, newRun("w", time.Duration(i)*time.Minute)).ID}, want...)
		}
		var got []string
		filter := store.RunFilter{Workflow: "w", Limit: 3}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 4, "paging must end")
			runs, err := b.s.ListRuns(b.ctx, filter)
			require.NoError(t, err)
			if len(runs) == 0 {
				break
			}
			require.LessOrEqual(t, len(runs), 3)
			got = append(got, ids(runs)...)
			filter.Before = runs[len(runs)-1].ID
		}
		require.Equal(t, want, got)
	})

	t.Run("ListWithUnknownCursorIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		b.create(t, newRun("w", 0))
		_, err := b.s.ListRuns(b.ctx, store.RunFilter{Before: "no-such-run"})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("UnfinishedRunsAreQueuedAndRunningOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		statuses := []store.Status{store.StatusRunning, store.StatusSucceeded, store.StatusQueued,
			store.StatusFailed, store.StatusSkipped, store.StatusRunning}
		for i, st := range statuses {
			r := newRun("w", time.Duration(len(statuses)-i)*time.Minute) // created newest first
			r.Status = st
			b.create(t, r)
			if !st.Final() {
				want = append([]string{r.ID}, want...)
			}
		}
		got, err := b.s.UnfinishedRuns(b.ctx)
		require.NoError(t, err)
		require.Equal(t, want, ids(got))
	})

	t.Run("UpdateRunChangesStatusAndTimes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))

		started, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
			require.Equal(t, store.StatusQueued, r.Status, "update sees the stored run")
			r.Status = store.StatusRunning
			r.StartedAt = base.Add(time.Second)
			r.Owner = "host-a"
			r.Attempt = 1
			return nil
		})
		require.NoError(t, err)
		want := run
		want.Status, want.StartedAt, want.Owner, want.Attempt = store.StatusRunning, base.Add(time.Second), "host-a", 1
		requireRun(t, want, started)
		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, want, got)

		_, err = b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
			r.Status = store.StatusFailed
			r.FinishedAt = base.Add(time.Minute)
			r.Error = "step notify failed: permanent: phone is not registered"
			return nil
		})
		require.NoError(t, err)
		want.Status, want.FinishedAt = store.StatusFailed, base.Add(time.Minute)
		want.Error = "step notify failed: permanent: phone is not registered"
		got, err = b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, want, got)

		unfinished, err := b.s.UnfinishedRuns(b.ctx)
		require.NoError(t, err)
		require.Empty(t, unfinished)
	})

	t.Run("UpdateRunErrorAbortsTheChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		errBusy := errors.New("slot taken")
		_, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
			r.Status = store.StatusRunning
			return errBusy
		})
		require.ErrorIs(t, err, errBusy)
		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, got.Status)
	})

	t.Run("UpdateUnknownRunIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		called := false
		_, err := b.s.UpdateRun(b.ctx, "no-such-run", func(*store.Run) error {
			called = true
			return nil
		})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.False(t, called)
	})

	t.Run("UpdateRunKeepsCreationFields", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := newRun("w", 0)
		run.Inputs = json.RawMessage(`{"vars":{"team":"ops"}}`)
		run = b.create(t, run)
		tests := map[string]func(*store.Run){
			"id":               func(r *store.Run) { r.ID = "other" },
			"workflow":         func(r *store.Run) { r.Workflow = "other" },
			"created":          func(r *store.Run) { r.CreatedAt = r.CreatedAt.Add(time.Hour) },
			"trigger":          func(r *store.Run) { r.Trigger = json.RawMessage(`{"kind":"webhook"}`) },
			"inputs":           func(r *store.Run) { r.Inputs = nil },
			"trigger in place": func(r *store.Run) { copy(r.Trigger, bytes.ToUpper(r.Trigger)) },
			"invalid status":   func(r *store.Run) { r.Status = "paused" },
			"negative":         func(r *store.Run) { r.Attempt = -3 },
		}
		for name, change := range tests {
			_, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
				r.Status = store.StatusRunning
				change(r)
				return nil
			})
			require.ErrorIs(t, err, store.ErrInvalid, name)
		}
		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		requireRun(t, run, got)
	})

	t.Run("UpdateRunIsAtomicUnderContention", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		const writers = 40
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				_, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
					r.Attempt++
					return nil
				})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		got, err := b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, writers, got.Attempt, "no increment may be lost")
	})

}
