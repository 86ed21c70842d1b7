package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testTwoHandles checks two Stores on the same data, as two herald serve
// processes on one database: races between them are settled by the
// database, never by state inside one Store, and a write one returned is
// there for the other to read.
func testTwoHandles(t *testing.T, h Harness) {
	// pair opens a store and a second handle on it.
	pair := func(t *testing.T) (a, b *bundle) {
		t.Helper()
		a = setup(t, h.Open)
		return a, &bundle{s: h.OpenSecond(t, a.s), ctx: t.Context()}
	}
	// race runs fn(i) for i in [0, n) at once, each on its own goroutine
	// released together.
	race := func(n int, fn func(i int)) {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				fn(i)
			})
		}
		close(start)
		wg.Wait()
	}

	t.Run("RacingClaimsCreateExactlyOneRun", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		handles := []*bundle{a, b}
		const keys, racers = 4, 24
		var (
			created atomic.Int32
			winners [keys]sync.Map // run ID -> true, per key
		)
		race(keys*racers, func(i int) {
			k, h := i%keys, handles[i/keys%2]
			got, existed, err := h.s.CreateRun(h.ctx, newRun("w", 0), fmt.Sprintf("delivery:support:%d", k), day)
			if !assert.NoError(t, err) {
				return
			}
			if !existed {
				created.Add(1)
			}
			winners[k].Store(got.ID, true)
		})
		require.EqualValues(t, keys, created.Load(), "one creation per key across both handles")
		for k := range keys {
			n := 0
			winners[k].Range(func(any, any) bool { n++; return true })
			require.Equal(t, 1, n, "every racer for key %d gets the same run", k)
		}
		for _, h := range handles {
			runs, err := h.s.ListRuns(h.ctx, store.RunFilter{})
			require.NoError(t, err)
			require.Len(t, runs, keys)
		}
	})

	t.Run("RacingStartsAndFinishesOfOneAttempt", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		handles := []*bundle{a, b}
		run := a.create(t, newRun("w", 0))
		const items = 16
		key := func(i int) store.StepKey { return store.StepKey{RunID: run.ID, StepID: "each", Item: i} }

		var started [items]atomic.Int32
		race(2*items, func(i int) {
			h := handles[i%2]
			err := h.s.StartAttempt(h.ctx, key(i/2), store.AttemptStart{Number: 1, Provider: fmt.Sprintf("p%d", i%2), StartedAt: base})
			if err == nil {
				started[i/2].Add(1)
			} else {
				assert.ErrorIs(t, err, store.ErrConflict)
			}
		})
		for i := range items {
			require.EqualValues(t, 1, started[i].Load(), "item %d: one handle starts attempt 1", i)
		}

		var winner [items]atomic.Int32 // 1 + the handle whose finish counted
		race(2*items, func(i int) {
			h := handles[i%2]
			err := h.s.FinishAttempt(h.ctx, key(i/2), 1, store.AttemptResult{Status: store.StatusSucceeded,
				Output: json.RawMessage(fmt.Sprintf(`{"by":%d}`, i%2)), FinishedAt: base.Add(time.Second)})
			if err == nil {
				assert.True(t, winner[i/2].CompareAndSwap(0, int32(i%2)+1), "item %d: two finishes counted", i/2)
			} else {
				assert.ErrorIs(t, err, store.ErrConflict)
			}
		})
		if t.Failed() {
			return
		}
		recs := b.records(t, run.ID)
		require.Len(t, recs, items)
		for i, rec := range recs {
			require.NotZero(t, winner[i].Load(), "item %d: one finish counts", i)
			require.Equal(t, store.StatusSucceeded, rec.Status)
			require.Equal(t, 1, rec.Attempts)
			requireJSON(t, json.RawMessage(fmt.Sprintf(`{"by":%d}`, winner[i].Load()-1)), rec.Output)
		}
		require.Len(t, a.attempts(t, run.ID), items, "one attempt logged per item")
	})

	t.Run("ItemsFromBothHandles", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		handles := []*bundle{a, b}
		run := a.create(t, newRun("w", 0))
		const items = 64
		race(items, func(i int) {
			assert.NoError(t, attemptTwice(handles[i%2], store.StepKey{RunID: run.ID, StepID: "each", Item: i}, i))
		})
		if t.Failed() {
			return
		}
		for _, h := range handles {
			recs := h.records(t, run.ID)
			require.Len(t, recs, items)
			for i, rec := range recs {
				require.Equal(t, i, rec.Item)
				require.Equal(t, store.StatusSucceeded, rec.Status)
				require.Equal(t, 2, rec.Attempts)
				requireJSON(t, json.RawMessage(fmt.Sprintf(`{"item":%d}`, i)), rec.Output)
			}
			require.Len(t, h.attempts(t, run.ID), 2*items)
		}
	})

	t.Run("UpdateRunLosesNoIncrement", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		handles := []*bundle{a, b}
		run := a.create(t, newRun("w", 0))
		const writers = 40
		race(writers, func(i int) {
			h := handles[i%2]
			_, err := h.s.UpdateRun(h.ctx, run.ID, func(r *store.Run) error {
				r.Attempt++
				return nil
			})
			assert.NoError(t, err)
		})
		for _, h := range handles {
			got, err := h.s.GetRun(h.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, writers, got.Attempt, "no increment may be lost")
		}
	})

	t.Run("UpdateRunStartsFromTheOtherHandlesChange", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		// a created and updated the run, so a store that remembers runs
		// it wrote has it at hand; b's change must still be what a's next
		// update starts from.
		run := a.create(t, newRun("w", 0))
		bump := func(h *bundle, by int) store.Run {
			t.Helper()
			got, err := h.s.UpdateRun(h.ctx, run.ID, func(r *store.Run) error {
				r.Attempt += by
				return nil
			})
			require.NoError(t, err)
			return got
		}
		bump(a, 1)
		bump(b, 10)
		require.Equal(t, 12, bump(a, 1).Attempt)
		require.Equal(t, 112, bump(b, 100).Attempt)
	})

	t.Run("WritesAreVisibleToTheOtherHandleOnReturn", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		handles := []*bundle{a, b}
		// Many writers at once, so writes of one handle are in flight
		// together; each reads its write back through the other handle as
		// soon as the call returns.
		race(16, func(i int) {
			w, r := handles[i%2], handles[1-i%2]
			for j := range 8 {
				run := newRun("w", time.Duration(j)*time.Second)
				if _, _, err := w.s.CreateRun(w.ctx, run, fmt.Sprintf("api:w:%d-%d", i, j), day); !assert.NoError(t, err) {
					return
				}
				_, err := r.s.GetRun(r.ctx, run.ID)
				assert.NoError(t, err, "a created run is there for the other handle")

				key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
				if !assert.NoError(t, w.s.StartAttempt(w.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: base})) {
					return
				}
				attempts, err := r.s.Attempts(r.ctx, run.ID)
				if assert.NoError(t, err) && assert.Len(t, attempts, 1, "a started attempt is there for the other handle") {
					assert.Equal(t, store.StatusRunning, attempts[0].Status)
				}
				if !assert.NoError(t, w.s.FinishAttempt(w.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: base})) {
					return
				}
				recs, err := r.s.StepRecords(r.ctx, run.ID)
				if assert.NoError(t, err) && assert.Len(t, recs, 1) {
					assert.Equal(t, store.StatusSucceeded, recs[0].Status, "a finished attempt is there for the other handle")
				}

				if _, err := w.s.UpdateRun(w.ctx, run.ID, func(r *store.Run) error {
					r.Status = store.StatusSucceeded
					return nil
				}); !assert.NoError(t, err) {
					return
				}
				got, err := r.s.GetRun(r.ctx, run.ID)
				if assert.NoError(t, err) {
					assert.Equal(t, store.StatusSucceeded, got.Status, "an update is there for the other handle")
				}
			}
		})
	})

	t.Run("LateFinishFromAnotherHostLeavesASuccessAlone", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		run := newRun("w", 0)
		run.Status = store.StatusRunning
		a.create(t, run)
		lateFinishLeavesASuccessAlone(t, a, b, store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem})
	})

	t.Run("LateFinishRacingTheSuccessNeverUndoesIt", func(t *testing.T) {
		t.Parallel()
		a, b := pair(t)
		run := a.create(t, newRun("w", 0))
		const items = 24
		key := func(i int) store.StepKey { return store.StepKey{RunID: run.ID, StepID: "each", Item: i} }
		for i := range items {
			require.NoError(t, a.s.StartAttempt(a.ctx, key(i), store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: base}))
			require.NoError(t, b.s.StartAttempt(b.ctx, key(i), store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: base}))
		}
		// Host a's attempt 1 fails while host b's attempt 2 succeeds, in
		// either order.
		race(2*items, func(i int) {
			var err error
			if i%2 == 0 {
				err = a.s.FinishAttempt(a.ctx, key(i/2), 1, store.AttemptResult{Status: store.StatusFailed,
					Error: &store.StepError{Class: "retryable", Message: "timeout"}, FinishedAt: base.Add(time.Minute)})
			} else {
				err = b.s.FinishAttempt(b.ctx, key(i/2), 2, store.AttemptResult{Status: store.StatusSucceeded,
					Output: json.RawMessage(`{"sent":true}`), FinishedAt: base.Add(time.Second)})
			}
			assert.NoError(t, err)
		})
		for _, rec := range a.records(t, run.ID) {
			require.Equal(t, store.StatusSucceeded, rec.Status, "item %d", rec.Item)
			requireJSON(t, json.RawMessage(`{"sent":true}`), rec.Output)
			require.Nil(t, rec.Error)
		}
		for _, att := range b.attempts(t, run.ID) {
			want := map[int]store.Status{1: store.StatusFailed, 2: store.StatusSucceeded}[att.Number]
			require.Equal(t, want, att.Status, "item %d attempt %d", att.Item, att.Number)
		}
	})
}
