package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFairQueueServesRunsInTurn(t *testing.T) {
	t.Parallel()
	var q fairQueue
	var order []string
	waiters := map[*slotWaiter]string{}
	for i := range 5 {
		w, _ := q.enqueue("blast")
		waiters[w] = "blast" + string(rune('0'+i))
	}
	w, _ := q.enqueue("page")
	waiters[w] = "page"
	gone, _ := q.enqueue("gone")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, q.wait(ctx, gone), context.Canceled)
	for q.grant(nil) {
		for w, name := range waiters {
			select {
			case <-w.ch:
				order = append(order, name)
			default:
			}
		}
	}
	require.Equal(t, []string{"blast0", "page", "blast1", "blast2", "blast3", "blast4"}, order,
		"the page gets the second slot, not the sixth; a waiter that gave up gets none")
}

func TestAIMDHalvesOnceAndClimbsBack(t *testing.T) {
	t.Parallel()
	var a aimd
	t0 := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	require.Equal(t, 1.0, a.share(t0))
	require.True(t, a.decrease(t0))
	require.False(t, a.decrease(t0.Add(300*time.Millisecond)), "429s of calls already in flight count once")
	require.InDelta(t, 0.5, a.share(t0.Add(300*time.Millisecond)), 0.02)
	require.InDelta(t, 0.75, a.share(t0.Add(5*time.Second)), 1e-9, "additive increase: 5% of the limit a second")
	require.True(t, a.decrease(t0.Add(5*time.Second)))
	require.InDelta(t, 0.375, a.share(t0.Add(5*time.Second)), 1e-9, "multiplicative decrease from where it was")
	require.Equal(t, 1.0, a.share(t0.Add(time.Minute)), "back to the whole limit")
}
