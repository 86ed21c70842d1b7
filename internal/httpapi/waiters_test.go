package httpapi

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
)

// hubStub is one subscription's worth of an event hub.
type hubStub struct {
	fn   func(engine.Event)
	subs int
}

func (h *hubStub) subscribe(fn func(engine.Event)) func() {
	h.fn, h.subs = fn, h.subs+1
	return func() { h.fn, h.subs = nil, h.subs-1 }
}

func (h *hubStub) finish(id string) {
	if h.fn != nil {
		h.fn(engine.Event{Type: engine.RunFinished, RunID: id})
	}
}

func TestAHeldWaiterKnowsOfARunThatEndedBeforeItWaited(t *testing.T) {
	t.Parallel()
	hub := &hubStub{}
	w := &runWaiters{subscribe: hub.subscribe}
	mark, release := w.hold()
	require.Equal(t, 1, hub.subs, "the hold subscribes")
	hub.finish("other")
	hub.finish("mine")
	finished, known, remove := w.add("mine", mark, true)
	release()
	require.True(t, known, "every event since the hold is remembered")
	select {
	case <-finished:
	default:
		t.Fatal("the run that ended between the hold and the wait is handed to the waiter")
	}
	remove()
	require.Zero(t, hub.subs, "the subscription goes with the last waiter")
	require.Equal(t, [recentRuns]finishedEvent{}, w.recent, "the runs remembered for holds go with the last hold")

	// A run that has not ended is known not to have ended: no read.
	mark, release = w.hold()
	hub.finish("other")
	finished, known, remove = w.add("later", mark, true)
	release()
	require.True(t, known)
	require.Empty(t, finished)
	hub.finish("later")
	require.Len(t, finished, 1, "a run that ends after the wait wakes it")
	remove()
}

func TestAHeldWaiterReadsTheStoreWhenTooManyRunsEnded(t *testing.T) {
	t.Parallel()
	hub := &hubStub{}
	w := &runWaiters{subscribe: hub.subscribe}
	mark, release := w.hold()
	hub.finish("mine")
	for i := range recentRuns {
		hub.finish(fmt.Sprint("other-", i))
	}
	finished, known, remove := w.add("mine", mark, true)
	release()
	defer remove()
	require.False(t, known, "the run's end may have been forgotten: the caller reads the store")
	require.Empty(t, finished)

	// Without a hold nothing is known either (an idempotent replay).
	_, known, remove2 := w.add("mine", 0, false)
	defer remove2()
	require.False(t, known)
}
