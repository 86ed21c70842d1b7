package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testWaits checks store.Waits, which every bundled store implements.
func testWaits(t *testing.T, open func(*testing.T) store.Store) {
	// waiting returns a store and a running run of owner "o" with a pending
	// wait of step "w" for chatapi.ack and signal ack.
	waiting := func(t *testing.T) (*bundle, store.Waits, store.Wait) {
		b := setup(t, open)
		ws, ok := b.s.(store.Waits)
		require.True(t, ok, "the store implements store.Waits")
		run := newRun("w", 0)
		run.Status, run.Owner, run.Attempt = store.StatusRunning, "o", 1
		b.create(t, run)
		w := store.Wait{StepKey: store.StepKey{RunID: run.ID, StepID: "w", Item: store.NoItem},
			Deadline: base.Add(time.Hour), Event: "chatapi.ack", Instance: "chatapi", MatchKey: `id="m1"`, Signal: "ack", CreatedAt: base}
		got, err := ws.CreateWait(b.ctx, w)
		require.NoError(t, err)
		require.False(t, got.Resolved)
		require.True(t, w.Deadline.Equal(got.Deadline))
		return b, ws, got
	}

	t.Run("CreateKeepsTheFirstDeadline", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		again := w
		again.Deadline = base.Add(48 * time.Hour)
		got, err := ws.CreateWait(b.ctx, again)
		require.NoError(t, err)
		require.True(t, w.Deadline.Equal(got.Deadline), "a resumed step keeps its deadline")
		_, err = ws.CreateWait(b.ctx, store.Wait{StepKey: store.StepKey{RunID: "nope", StepID: "w", Item: store.NoItem}, Deadline: base, CreatedAt: base})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = ws.GetWait(b.ctx, store.StepKey{RunID: w.RunID, StepID: "other", Item: store.NoItem})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ParkThenResolveRequeuesOnce", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		parked, err := ws.ParkRun(b.ctx, w.RunID, "someone-else", "waiting")
		require.NoError(t, err)
		require.False(t, parked, "only the run's owner parks it")
		parked, err = ws.ParkRun(b.ctx, w.RunID, "o", "waiting for signal \"ack\" until 02:30")
		require.NoError(t, err)
		require.True(t, parked)
		run, err := b.s.GetRun(b.ctx, w.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusWaiting, run.Status)
		require.Equal(t, "waiting for signal \"ack\" until 02:30", run.Reason)

		var wins, requeues atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resolved, requeued, err := ws.ResolveWait(b.ctx, w.StepKey, json.RawMessage(`{"matched":true}`), base.Add(time.Minute))
				require.NoError(t, err)
				if resolved {
					wins.Add(1)
				}
				if requeued {
					requeues.Add(1)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load(), "exactly one resolver wins")
		require.EqualValues(t, 1, requeues.Load())
		run, err = b.s.GetRun(b.ctx, w.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, run.Status)
		require.Empty(t, run.Owner)
		got, err := ws.GetWait(b.ctx, w.StepKey)
		require.NoError(t, err)
		require.True(t, got.Resolved)
		require.JSONEq(t, `{"matched":true}`, string(got.Output))
		pending, err := ws.PendingWaits(b.ctx)
		require.NoError(t, err)
		require.Empty(t, pending)
	})

	t.Run("ResolvedBeforeParkingKeepsTheRunRunning", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		resolved, requeued, err := ws.ResolveWait(b.ctx, w.StepKey, json.RawMessage(`{"timed_out":true}`), base)
		require.NoError(t, err)
		require.True(t, resolved)
		require.False(t, requeued, "a run that is not waiting is not requeued")
		parked, err := ws.ParkRun(b.ctx, w.RunID, "o", "waiting")
		require.NoError(t, err)
		require.False(t, parked, "nothing is pending, so the run keeps executing")
		run, err := b.s.GetRun(b.ctx, w.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, run.Status)
	})

	t.Run("LookupsByEventAndSignal", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		got, err := ws.EventWaits(b.ctx, "chatapi.ack", "chatapi", []string{`id="m0"`, `id="m1"`, ""})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, w.StepKey, got[0].StepKey)
		require.Equal(t, `id="m1"`, got[0].MatchKey)
		got, err = ws.EventWaits(b.ctx, "chatapi.ack", "chatapi", []string{`id="m2"`, ""})
		require.NoError(t, err)
		require.Empty(t, got, "another message's receipt is no candidate")
		got, err = ws.EventWaits(b.ctx, "chatapi.ack", "other", []string{`id="m1"`})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = ws.SignalWaits(b.ctx, w.RunID, "ack")
		require.NoError(t, err)
		require.Len(t, got, 1)
		got, err = ws.SignalWaits(b.ctx, w.RunID, "nack")
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = ws.PendingWaits(b.ctx)
		require.NoError(t, err)
		require.Len(t, got, 1)
	})

	t.Run("InboxKeepsRecentEventsOfAType", func(t *testing.T) {
		t.Parallel()
		b, ws, _ := waiting(t)
		late := base.Add(store.InboxMaxAge + 2*time.Minute)
		for i := range 2 * store.InboxTrimEvery {
			at := base
			if i >= store.InboxTrimEvery {
				at = late
			}
			require.NoError(t, ws.AddInboxEvent(b.ctx, store.InboxEvent{Event: "chatapi.ack", Instance: "chatapi",
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), ReceivedAt: at}))
		}
		got, err := ws.InboxEvents(b.ctx, "chatapi.ack", "chatapi", base)
		require.NoError(t, err)
		require.Len(t, got, store.InboxTrimEvery, "events older than the inbox's age are dropped")
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, store.InboxTrimEvery), string(got[0].Data), "oldest first")
		got, err = ws.InboxEvents(b.ctx, "chatapi.ack", "chatapi", base.Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, got, "only events since the given time")
	})

	// parked is waiting with the run parked on its wait.
	parked := func(t *testing.T) (*bundle, store.Waits, store.Wait) {
		b, ws, w := waiting(t)
		ok, err := ws.ParkRun(b.ctx, w.RunID, "o", "waiting")
		require.NoError(t, err)
		require.True(t, ok)
		return b, ws, w
	}

	t.Run("SettleWaitsInOneTransaction", func(t *testing.T) {
		t.Parallel()
		b, ws, w := parked(t)
		// A second waiting run, whose wait's match needs a test of its own,
		// and a third, timed out in the same batch.
		other := newRun("w", 1)
		other.Status, other.Owner, other.Attempt = store.StatusRunning, "o", 1
		b.create(t, other)
		ow, err := ws.CreateWait(b.ctx, store.Wait{StepKey: store.StepKey{RunID: other.ID, StepID: "w", Item: store.NoItem},
			Deadline: base.Add(time.Hour), Event: "chatapi.ack", Instance: "chatapi", MatchKey: `id="m1"`, CreatedAt: base})
		require.NoError(t, err)
		third := newRun("w", 2)
		third.Status, third.Owner, third.Attempt = store.StatusRunning, "o", 1
		b.create(t, third)
		tw, err := ws.CreateWait(b.ctx, store.Wait{StepKey: store.StepKey{RunID: third.ID, StepID: "nap", Item: store.NoItem},
			Deadline: base.Add(time.Minute), CreatedAt: base})
		require.NoError(t, err)
		for _, id := range []string{other.ID, third.ID} {
			ok, err := ws.ParkRun(b.ctx, id, "o", "waiting")
			require.NoError(t, err)
			require.True(t, ok)
		}

		receipt := json.RawMessage(`{"id":"m1","status":"viewed"}`)
		out := json.RawMessage(`{"matched":true,"event":{"id":"m1","status":"viewed"}}`)
		delivery := func(keys ...string) store.Settlement {
			return store.Settlement{Delivery: &store.EventDelivery{Event: "chatapi.ack", Instance: "chatapi", Keys: keys,
				Output: out, Data: receipt, Settle: func(c store.Wait) bool { return c.RunID == w.RunID }}}
		}
		at := base.Add(2 * time.Minute)
		_, err = ws.SettleWaits(b.ctx, []store.Settlement{{Key: tw.StepKey, Output: json.RawMessage(`{`)}}, at)
		require.ErrorIs(t, err, store.ErrInvalid, "an output that is not JSON is refused before anything is written")
		res, err := ws.SettleWaits(b.ctx, []store.Settlement{
			delivery(`id="m1"`, ""),
			{Key: tw.StepKey, Output: json.RawMessage(`{"timed_out":true}`)},
			{Key: tw.StepKey, Output: json.RawMessage(`{"timed_out":true}`)},
			delivery(`id="m1"`, ""),
			delivery(`id="m9"`, ""),
		}, at)
		require.NoError(t, err)
		require.Len(t, res, 5)
		require.Equal(t, []store.EndedWait{{Key: w.StepKey, Requeued: true}}, res[0].Ended, "the wait Settle accepts ends")
		require.Len(t, res[0].Candidates, 1, "the other is left to the caller")
		require.Equal(t, ow.StepKey, res[0].Candidates[0].StepKey)
		require.False(t, res[0].Kept)
		require.True(t, res[1].Resolved)
		require.True(t, res[1].Requeued)
		require.False(t, res[2].Resolved, "a wait ends once, even twice in one batch")
		require.Empty(t, res[3].Ended, "the receipt's wait ended earlier in the batch")
		require.Len(t, res[3].Candidates, 1)
		require.False(t, res[3].Kept)
		require.True(t, res[4].Kept, "a receipt no wait is pending for is kept in the inbox")
		require.Empty(t, res[4].Candidates)

		got, err := ws.GetWait(b.ctx, w.StepKey)
		require.NoError(t, err)
		require.True(t, got.Resolved)
		require.JSONEq(t, string(out), string(got.Output))
		require.True(t, at.Equal(got.ResolvedAt))
		got, err = ws.GetWait(b.ctx, ow.StepKey)
		require.NoError(t, err)
		require.False(t, got.Resolved, "a candidate is not ended by the store")
		for id, want := range map[string]store.Status{w.RunID: store.StatusQueued, third.ID: store.StatusQueued, other.ID: store.StatusWaiting} {
			run, err := b.s.GetRun(b.ctx, id)
			require.NoError(t, err)
			require.Equal(t, want, run.Status)
		}
		kept, err := ws.InboxEvents(b.ctx, "chatapi.ack", "chatapi", base)
		require.NoError(t, err)
		require.Len(t, kept, 1, "only the receipt that met no wait")
		require.JSONEq(t, string(receipt), string(kept[0].Data))
	})

	t.Run("SettleWaitsEndsAWaitOnceAcrossConcurrentBatches", func(t *testing.T) {
		t.Parallel()
		b, ws, w := parked(t)
		var ended, requeues atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				st := store.Settlement{Key: w.StepKey, Output: json.RawMessage(`{"timed_out":true}`)}
				if i%2 == 0 {
					st = store.Settlement{Delivery: &store.EventDelivery{Event: "chatapi.ack", Instance: "chatapi", Keys: []string{`id="m1"`},
						Output: json.RawMessage(`{"matched":true}`), Settle: func(store.Wait) bool { return true }}}
				}
				res, err := ws.SettleWaits(b.ctx, []store.Settlement{st}, base.Add(time.Minute))
				require.NoError(t, err)
				for _, e := range res[0].Ended {
					ended.Add(1)
					if e.Requeued {
						requeues.Add(1)
					}
				}
				if res[0].Resolved {
					ended.Add(1)
				}
				if res[0].Requeued {
					requeues.Add(1)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, ended.Load(), "exactly one settlement ends the wait")
		require.EqualValues(t, 1, requeues.Load())
	})

	t.Run("SignalTokenIsUsedOnce", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		first, err := ws.UseSignalToken(b.ctx, "tok", w.RunID, base)
		require.NoError(t, err)
		require.True(t, first)
		first, err = ws.UseSignalToken(b.ctx, "tok", w.RunID, base)
		require.NoError(t, err)
		require.False(t, first)
	})

	t.Run("KeptSignalIsTakenOnceByTheStepThatWaits", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		// The step waits for "ack"; a "nack" kept earlier is not taken by it.
		require.NoError(t, ws.KeepSignal(b.ctx, w.RunID, "nack", json.RawMessage(`{"matched":true,"signal":"nack"}`), base))
		resolved, _, err := ws.TakeSignal(b.ctx, w.StepKey, "ack", base)
		require.NoError(t, err)
		require.False(t, resolved, "no ack kept")
		require.NoError(t, ws.KeepSignal(b.ctx, w.RunID, "ack", json.RawMessage(`{"matched":true,"signal":"ack","data":{"n":1}}`), base))
		require.NoError(t, ws.KeepSignal(b.ctx, w.RunID, "ack", json.RawMessage(`{"matched":true,"signal":"ack","data":{"n":2}}`), base.Add(time.Second)))

		parked, err := ws.ParkRun(b.ctx, w.RunID, "o", "waiting")
		require.NoError(t, err)
		require.True(t, parked)
		var wg sync.WaitGroup
		var took, requeues atomic.Int32
		for range 8 {
			wg.Go(func() {
				resolved, requeued, err := ws.TakeSignal(b.ctx, w.StepKey, "ack", base.Add(time.Minute))
				require.NoError(t, err)
				if resolved {
					took.Add(1)
				}
				if requeued {
					requeues.Add(1)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, took.Load(), "one wait takes one signal")
		require.EqualValues(t, 1, requeues.Load(), "its waiting run is queued once")
		got, err := ws.GetWait(b.ctx, w.StepKey)
		require.NoError(t, err)
		require.JSONEq(t, `{"matched":true,"signal":"ack","data":{"n":1}}`, string(got.Output), "the oldest signal")
		run, err := b.s.GetRun(b.ctx, w.RunID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, run.Status)

		// The second ack is still kept: a later step on the same signal takes it.
		next := store.Wait{StepKey: store.StepKey{RunID: w.RunID, StepID: "w2", Item: store.NoItem}, Deadline: base.Add(time.Hour), Signal: "ack", CreatedAt: base}
		_, err = ws.CreateWait(b.ctx, next)
		require.NoError(t, err)
		resolved, requeued, err := ws.TakeSignal(b.ctx, next.StepKey, "ack", base.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, resolved)
		require.False(t, requeued, "the run was not waiting")
		got, err = ws.GetWait(b.ctx, next.StepKey)
		require.NoError(t, err)
		require.JSONEq(t, `{"matched":true,"signal":"ack","data":{"n":2}}`, string(got.Output))
		resolved, _, err = ws.TakeSignal(b.ctx, next.StepKey, "ack", base.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, resolved, "a resolved wait takes nothing")
	})

	t.Run("KeptSignalsAreBoundedPerRun", func(t *testing.T) {
		t.Parallel()
		b, ws, w := waiting(t)
		out := json.RawMessage(`{"matched":true,"signal":"ack"}`)
		for range store.SignalInboxMax {
			require.NoError(t, ws.KeepSignal(b.ctx, w.RunID, "ack", out, base))
		}
		err := ws.KeepSignal(b.ctx, w.RunID, "other", out, base)
		require.ErrorIs(t, err, store.ErrInboxFull)
		require.ErrorIs(t, ws.KeepSignal(b.ctx, "nope", "ack", out, base), store.ErrNotFound)
		require.ErrorIs(t, ws.KeepSignal(b.ctx, w.RunID, "ack", json.RawMessage(`{`), base), store.ErrInvalid)
		// Taking one makes room for one.
		resolved, _, err := ws.TakeSignal(b.ctx, w.StepKey, "ack", base)
		require.NoError(t, err)
		require.True(t, resolved)
		require.NoError(t, ws.KeepSignal(b.ctx, w.RunID, "other", out, base))
	})

	t.Run("PruningARunDeletesItsKeptSignals", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ws := b.s.(store.Waits)
		run := newRun("w", 0)
		run.Status, run.StartedAt, run.FinishedAt = store.StatusSucceeded, base, base.Add(time.Second)
		b.create(t, run)
		require.NoError(t, ws.KeepSignal(b.ctx, run.ID, "ack", json.RawMessage(`{"matched":true}`), base))
		n, err := b.s.PruneRuns(b.ctx, base.Add(time.Hour), 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.ErrorIs(t, ws.KeepSignal(b.ctx, run.ID, "ack", json.RawMessage(`{"matched":true}`), base), store.ErrNotFound)
	})
}
