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
