package cluster_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// overflowSetup starts replica a of one worker executing a one-step
// project (timeout 1 s) with slices of slice, and admits a first run whose
// call hangs until release: a's one worker is busy.
func overflowSetup(t *testing.T, maxOverflow int, slice time.Duration) (b *bundle, a *replica, plugin *sender, release func(), order func() []string) {
	t.Helper()
	b, plugin = eagerSetup(t, workflowW("1s", "s"))
	b.workers = 1
	b.maxOverflow = maxOverflow
	var (
		mu   sync.Mutex
		runs []string
	)
	b.executeRun = func(r *replica, ctx context.Context, run store.Run) (store.Run, error) {
		mu.Lock()
		runs = append(runs, run.ID)
		mu.Unlock()
		return r.engine.ExecuteRun(ctx, run)
	}
	order = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), runs...)
	}
	a = b.startEngine("a", slice)
	release = plugin.hold(t)
	first := a.admit(t, "w")
	require.Equal(t, store.StatusRunning, first.Status, "executed at once")
	waitFor(t, 10*time.Second, "the first call", func() bool { return plugin.calls.Load() == 1 })
	return b, a, plugin, release, order
}

// TestOverflowExecutesQueuedRunsInOrder: runs admitted while the replica's
// workers are busy are created queued with their jobs held back, and the
// freed worker executes them here in the order they were admitted, handed
// as their creates stored them: River never fetches their jobs, which the
// runs' ends delete.
func TestOverflowExecutesQueuedRunsInOrder(t *testing.T) {
	t.Parallel()
	_, a, plugin, release, order := overflowSetup(t, 8, time.Minute)
	var want []string
	for range 5 {
		run := a.admit(t, "w")
		require.Equal(t, store.StatusQueued, run.Status, "queued: no worker was free")
		require.Equal(t, map[string]int{"scheduled": 1}, jobs(t, a.st, run.ID), "its job held back")
		want = append(want, run.ID)
	}
	require.Equal(t, 5, a.c.Overflowed())
	require.Empty(t, order(), "none executed while the worker is busy")
	release()
	for _, id := range want {
		a.status(t, id, store.StatusSucceeded, 10*time.Second)
		require.Empty(t, jobs(t, a.st, id), "the run's end deleted its job: River never executed it")
	}
	require.Equal(t, want, order(), "executed in the order admitted")
	require.EqualValues(t, 6, plugin.calls.Load())
	require.Zero(t, a.calls.Load()-a.handedCalls.Load(), "none executed by River")
	require.Zero(t, a.c.Overflowed())
}

// TestOverflowIsBounded: once the overflow queue holds MaxOverflow runs,
// StartEager refuses the next admission (the caller creates it for River,
// as before), and the queued runs still execute here.
func TestOverflowIsBounded(t *testing.T) {
	t.Parallel()
	_, a, plugin, release, order := overflowSetup(t, 2, time.Minute)
	q1, q2 := a.admit(t, "w"), a.admit(t, "w")
	run, err := a.engine.NewRun(context.Background(), "w",
		engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}})
	require.NoError(t, err)
	admitted := false
	require.False(t, a.c.StartEager(engine.Admission{Run: run,
		Admitted: func(store.Run, bool, error) { admitted = true }}), "the queue is full")
	require.False(t, admitted, "nothing was created")
	_, err = a.st.GetRun(context.Background(), run.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = a.c.Store().CreateRun(context.Background(), run, "", 0) // River's path
	require.NoError(t, err)
	release()
	for _, id := range []string{q1.ID, q2.ID, run.ID} {
		a.status(t, id, store.StatusSucceeded, 10*time.Second)
	}
	var queuedOrder []string
	for _, id := range order() {
		if id != run.ID { // River's worker hands it too (created here)
			queuedOrder = append(queuedOrder, id)
		}
	}
	require.Equal(t, []string{q1.ID, q2.ID}, queuedOrder, "the queued runs from the queue, in order")
	require.EqualValues(t, 4, plugin.calls.Load())
	waitFor(t, 10*time.Second, "River's completion of the refused run's job", func() bool {
		return jobs(t, a.st, run.ID)["completed"] == 1
	})
	require.Empty(t, jobs(t, a.st, q1.ID))
}

// TestOverflowRunsResumedAfterTheirReplicaDies: the runs queued in the
// memory of a replica that stops answering (its worker hung, its River
// client gone) are resumed by another replica once their held jobs' lease
// is over, each sent once.
func TestOverflowRunsResumedAfterTheirReplicaDies(t *testing.T) {
	t.Parallel()
	b, a, plugin, _, order := overflowSetup(t, 8, time.Second)
	q1, q2 := a.admit(t, "w"), a.admit(t, "w")
	require.Equal(t, 2, a.c.Overflowed())
	// a dies: its River client stops, its worker stays hung.
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.c.Client().Stop(stopCtx))

	// b calls a provider of its own, which answers.
	other := &sender{}
	srv := sdk.NewServer(other, nil)
	require.NoError(t, srv.Configure(context.Background(), "p", json.RawMessage(`{}`)))
	b.client = func(context.Context, string) (sdk.Client, error) { return srv, nil }
	rb := b.startEngine("b", time.Second)
	start := time.Now()
	// Slice, attempt timeout and margin, plus the longest wait in the
	// queue (the slice): 8 s.
	lease := time.Second + time.Second + 5*time.Second + time.Second
	for _, id := range []string{q1.ID, q2.ID} {
		rb.status(t, id, store.StatusSucceeded, lease+15*time.Second)
	}
	require.GreaterOrEqual(t, time.Since(start), lease-2*time.Second, "not before the lease is over")
	require.EqualValues(t, 2, other.calls.Load(), "b sent each once")
	require.EqualValues(t, 1, plugin.calls.Load(), "a sent only its first run's")
	require.Empty(t, order(), "a never executed them")
	require.GreaterOrEqual(t, rb.calls.Load(), int64(2), "River executed them on b")
}

// TestOverflowRunsHandedToRiverOnStop: a replica that stops hands the runs
// queued in its memory to River at once, and another replica executes
// them long before their held jobs' lease is over.
func TestOverflowRunsHandedToRiverOnStop(t *testing.T) {
	t.Parallel()
	b, a, _, _, order := overflowSetup(t, 8, time.Minute)
	q1, q2 := a.admit(t, "w"), a.admit(t, "w")
	other := &sender{}
	srv := sdk.NewServer(other, nil)
	require.NoError(t, srv.Configure(context.Background(), "p", json.RawMessage(`{}`)))
	b.client = func(context.Context, string) (sdk.Client, error) { return srv, nil }
	rb := b.startEngine("b", time.Minute)
	go func() {
		// Its first run's call hangs: Stop cancels it after a second.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = a.c.Stop(ctx)
	}()
	for _, id := range []string{q1.ID, q2.ID} {
		rb.status(t, id, store.StatusSucceeded, 15*time.Second) // the lease is 76 s
	}
	require.EqualValues(t, 2, other.calls.Load(), "b sent each once")
	require.Empty(t, order(), "a never executed them")
}

// TestRiverJobsWaitBehindTheQueue: a River job this replica fetches while
// its workers are busy takes its turn in the overflow queue, behind the
// runs queued before it and ahead of those queued after it, so that River's
// jobs and the runs admitted here together never execute more than
// Workers at once.
func TestRiverJobsWaitBehindTheQueue(t *testing.T) {
	t.Parallel()
	_, a, plugin, release, order := overflowSetup(t, 8, time.Minute)
	q1 := a.admit(t, "w")
	require.Equal(t, store.StatusQueued, q1.Status)
	viaRiver, err := a.engine.NewRun(context.Background(), "w",
		engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}})
	require.NoError(t, err)
	_, _, err = a.c.Store().CreateRun(context.Background(), viaRiver, "", 0) // River's path
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "River's fetch of its job", func() bool {
		return jobs(t, a.st, viaRiver.ID)["running"] == 1
	})
	q2 := a.admit(t, "w")
	require.Equal(t, store.StatusQueued, q2.Status)
	time.Sleep(300 * time.Millisecond)
	require.EqualValues(t, 1, plugin.calls.Load(), "River's job waits for the busy worker")
	require.Empty(t, order())
	release()
	for _, id := range []string{q1.ID, viaRiver.ID, q2.ID} {
		a.status(t, id, store.StatusSucceeded, 10*time.Second)
	}
	require.Equal(t, []string{q1.ID, viaRiver.ID, q2.ID}, order(), "in the order they were queued")
	require.EqualValues(t, 4, plugin.calls.Load())
}
