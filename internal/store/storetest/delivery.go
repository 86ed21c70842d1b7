package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testDeliveries checks the delivery index: messages bound to the step (and
// item) that sent them, receipts that never lower the status, and rows that
// go with their run.
func testDeliveries(t *testing.T, open func(*testing.T) store.Store) {
	const ack = "chatapi.ack"
	index := func(t *testing.T, b *bundle, runID, step string, item int, msg string) {
		t.Helper()
		require.NoError(t, b.s.IndexMessage(b.ctx, store.Delivery{StepKey: store.StepKey{RunID: runID, StepID: step, Item: item},
			Provider: "chatapi", MessageID: msg, Event: ack}))
	}
	receipt := func(status string, offset time.Duration) store.Receipt {
		return store.Receipt{Status: status, At: base.Add(offset), Data: json.RawMessage(`{"id":"m","status":"` + status + `"}`)}
	}

	t.Run("ReceiptsNeverLowerTheStatus", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		index(t, b, run.ID, "page", store.NoItem, "m1")
		steps := []struct {
			status  string
			changed bool
			want    string
		}{
			{"sent", true, "sent"},
			{"delivered", true, "delivered"},
			{"sent", false, "delivered"},
			{"delivered", false, "delivered"},
			{"failed", false, "delivered"},
			{"read", true, "read"},
			{"delivered", false, "read"},
		}
		for i, st := range steps {
			d, changed, err := b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, receipt(st.status, time.Duration(i)*time.Second))
			require.NoError(t, err, "receipt %d", i)
			require.Equal(t, st.changed, changed, "receipt %d (%s)", i, st.status)
			require.Equal(t, st.want, d.Status, "receipt %d", i)
			require.Equal(t, store.StepKey{RunID: run.ID, StepID: "page", Item: store.NoItem}, d.StepKey)
		}
		got, err := b.s.RunDeliveries(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "read", got[0].Status)
		requireTime(t, base.Add(5*time.Second), got[0].At)
		requireJSON(t, json.RawMessage(`{"id":"m","status":"read"}`), got[0].Data)
		require.Equal(t, ack, got[0].Event)
	})

	t.Run("FailedBeatsSentAndLosesToDelivered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		index(t, b, run.ID, "page", store.NoItem, "m1")
		for _, st := range []struct {
			status, want string
		}{{"failed", "failed"}, {"sent", "failed"}, {"delivered", "delivered"}} {
			d, _, err := b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, receipt(st.status, 0))
			require.NoError(t, err)
			require.Equal(t, st.want, d.Status)
		}
	})

	t.Run("UnknownMessageOrOtherEventIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		index(t, b, run.ID, "page", store.NoItem, "m1")
		_, _, err := b.s.RecordReceipt(b.ctx, "chatapi", "m2", ack, receipt("read", 0))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = b.s.RecordReceipt(b.ctx, "other", "m1", ack, receipt("read", 0))
		require.ErrorIs(t, err, store.ErrNotFound, "the same id from another instance is another message")
		_, _, err = b.s.RecordReceipt(b.ctx, "chatapi", "m1", "chatapi.message", receipt("read", 0))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, store.Receipt{Status: "viewed", At: base})
		require.ErrorIs(t, err, store.ErrInvalid)
		require.ErrorIs(t, b.s.IndexMessage(b.ctx, store.Delivery{StepKey: store.StepKey{RunID: "nope", StepID: "s", Item: store.NoItem},
			Provider: "chatapi", MessageID: "m9", Event: ack}), store.ErrNotFound)
		require.ErrorIs(t, b.s.IndexMessage(b.ctx, store.Delivery{StepKey: store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem},
			Provider: "chatapi", Event: ack}), store.ErrInvalid)
	})

	t.Run("IndexingAgainKeepsTheStatusOnlyForTheSameStep", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		index(t, b, run.ID, "page", store.NoItem, "m1")
		_, _, err := b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, receipt("delivered", 0))
		require.NoError(t, err)
		index(t, b, run.ID, "page", store.NoItem, "m1")
		got, err := b.s.RunDeliveries(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, "delivered", got[0].Status, "a resume indexing the same send keeps its receipt")

		other := b.create(t, newRun("w", time.Second))
		index(t, b, other.ID, "page", 3, "m1")
		got, err = b.s.RunDeliveries(b.ctx, run.ID)
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = b.s.RunDeliveries(b.ctx, other.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 3, got[0].Item)
		require.Empty(t, got[0].Status)
		require.True(t, got[0].At.IsZero())
	})

	t.Run("ItemsKeepTheirOwnReceipts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		for i, msg := range []string{"a", "b", "c"} {
			index(t, b, run.ID, "each", i, msg)
		}
		d, changed, err := b.s.RecordReceipt(b.ctx, "chatapi", "b", ack, receipt("read", 0))
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, 1, d.Item)
		got, err := b.s.RunDeliveries(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, d := range got {
			require.Equal(t, i, d.Item)
			want := ""
			if i == 1 {
				want = "read"
			}
			require.Equal(t, want, d.Status, "item %d", i)
		}
		none, err := b.s.RunDeliveries(b.ctx, "no-such-run")
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("RacingReceiptsKeepTheBest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		index(t, b, run.ID, "page", store.NoItem, "m1")
		var wg sync.WaitGroup
		changes := make(chan string, 30)
		for i := range 30 {
			status := []string{"sent", "delivered", "read"}[i%3]
			wg.Go(func() {
				d, changed, err := b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, receipt(status, 0))
				if err == nil && changed {
					changes <- d.Status
				}
			})
		}
		wg.Wait()
		close(changes)
		seen := map[string]int{}
		for s := range changes {
			seen[s]++
		}
		require.Equal(t, 1, seen["read"], "read is recorded exactly once")
		got, err := b.s.RunDeliveries(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, "read", got[0].Status)
	})

	t.Run("PruningARunDeletesItsDeliveries", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := newRun("w", 0)
		run.Status, run.StartedAt, run.FinishedAt = store.StatusSucceeded, base, base.Add(time.Second)
		b.create(t, run)
		index(t, b, run.ID, "page", store.NoItem, "m1")
		n, err := b.s.PruneRuns(b.ctx, base.Add(time.Hour), 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, _, err = b.s.RecordReceipt(b.ctx, "chatapi", "m1", ack, receipt("read", 0))
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
