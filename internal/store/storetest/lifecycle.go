package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testLifecycle checks Ping, Close and cancelled contexts.
func testLifecycle(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("PingAnswers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.s.Ping(b.ctx))
	})

	t.Run("CloseIsFinalAndRepeatable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.s.Close())
		require.NoError(t, b.s.Close(), "a second Close returns nil")
		require.Error(t, b.s.Ping(b.ctx))
		_, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), "", 0)
		require.Error(t, err)
	})

	t.Run("CancelledContextStopsTheCall", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ctx, cancel := context.WithCancel(b.ctx)
		cancel()
		run := newRun("w", 0)
		_, _, err := b.s.CreateRun(ctx, run, "api:w:k", time.Hour)
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.s.ListRuns(ctx, store.RunFilter{})
		require.ErrorIs(t, err, context.Canceled)

		_, err = b.s.GetRun(b.ctx, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
	})

	t.Run("CancellationMidCallWritesAllOrNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		parent := b.create(t, newRun("w", 0))
		const calls = 48
		type outcome struct {
			run                   store.Run
			create, start, finish error
		}
		outcomes := make([]outcome, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				// Call i is cancelled 25µs to 150ms after it starts, the
				// delays spread geometrically so that, however fast the
				// store, some land inside each write, among the writes of
				// the other calls. The first call is cancelled before it
				// starts, the last never.
				ctx, cancel := context.WithCancel(b.ctx)
				defer cancel()
				switch i {
				case 0:
					cancel()
				case calls - 1:
				default:
					delay := time.Duration(i%4+1) * 25 * time.Microsecond << (i / 4)
					defer time.AfterFunc(delay, cancel).Stop()
				}
				o := &outcomes[i]
				o.run = newRun("w", 0)
				_, _, o.create = b.s.CreateRun(ctx, o.run, fmt.Sprintf("api:w:%d", i), day)
				key := store.StepKey{RunID: parent.ID, StepID: "each", Item: i}
				o.start = b.s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: base})
				if o.start == nil {
					o.finish = b.s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
						Output: json.RawMessage(`{"sent":true}`), FinishedAt: base.Add(time.Second)})
				}
			})
		}
		wg.Wait()

		for i, o := range outcomes {
			for _, err := range []error{o.create, o.start, o.finish} {
				if err != nil {
					require.ErrorIs(t, err, context.Canceled, "call %d fails only by its cancellation", i)
				}
			}
		}
		require.Error(t, outcomes[0].create, "a call cancelled before it starts fails")
		require.NoError(t, outcomes[calls-1].finish, "a call never cancelled succeeds")

		// A call returns when its context ends, but a statement the
		// database had begun may still commit after that (a server-side
		// store cancels asynchronously): the writes are read once two
		// reads 50 ms apart agree, so that the checks below, each a
		// separate read, see one state.
		type state struct {
			recs     map[int]store.StepRecord
			attempts map[int]store.Attempt
			stored   []bool
		}
		read := func() state {
			st := state{recs: map[int]store.StepRecord{}, attempts: map[int]store.Attempt{}}
			for _, rec := range b.records(t, parent.ID) {
				st.recs[rec.Item] = rec
			}
			for _, a := range b.attempts(t, parent.ID) {
				st.attempts[a.Item] = a
			}
			for _, o := range outcomes {
				_, err := b.s.GetRun(b.ctx, o.run.ID)
				if err != nil {
					require.ErrorIs(t, err, store.ErrNotFound)
				}
				st.stored = append(st.stored, err == nil)
			}
			return st
		}
		now := read()
		for deadline := time.Now().Add(10 * time.Second); ; {
			time.Sleep(50 * time.Millisecond)
			next := read()
			if reflect.DeepEqual(now, next) || time.Now().After(deadline) {
				now = next
				break
			}
			now = next
		}
		recs, attempts := now.recs, now.attempts
		for i, o := range outcomes {
			// CreateRun stores the run and binds its key, or neither.
			stored := now.stored[i]
			if o.create == nil {
				require.True(t, stored, "call %d: a create that returned is stored", i)
			}
			got, existed, err := b.s.CreateRun(b.ctx, newRun("w", time.Second), fmt.Sprintf("api:w:%d", i), day)
			require.NoError(t, err)
			require.Equal(t, stored, existed, "call %d: the key is bound exactly when the run is stored", i)
			if stored {
				require.Equal(t, o.run.ID, got.ID)
			}

			// StartAttempt logs the attempt and writes the record, or
			// neither; FinishAttempt finishes both, or neither.
			rec, hasRec := recs[i]
			att, hasAtt := attempts[i]
			require.Equal(t, hasRec, hasAtt, "call %d: a step record exactly when an attempt is logged", i)
			if o.start == nil {
				require.True(t, hasAtt, "call %d: a start that returned is logged", i)
			}
			if hasAtt {
				require.Equal(t, att.Status, rec.Status, "call %d: the attempt and its record finish together", i)
			}
			if o.start == nil && o.finish == nil {
				require.Equal(t, store.StatusSucceeded, att.Status, "call %d: a finish that returned is logged", i)
			}
		}
	})
}
