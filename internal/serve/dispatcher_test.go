package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// freshJob makes a run of w that is not stored yet, admitted, as submit
// hands it to a worker.
func freshJob(t *testing.T, ctx context.Context, l *localRunner) (job, *eagerAdmission) {
	t.Helper()
	require.NoError(t, l.disp.admit(ctx, "w", time.Second))
	ea := &eagerAdmission{done: make(chan struct{})}
	var err error
	ea.fresh, err = l.engine().NewAdmission(ctx, "w", engine.Trigger{Kind: engine.KindWebhook})
	require.NoError(t, err)
	ea.fresh.Admitted = ea.admitted
	return job{id: ea.fresh.Run.ID, workflow: "w", fresh: &ea.fresh}, ea
}

// queued returns the jobs waiting for a worker and how many of them are
// fresh runs.
func queued(d *dispatcher) (ready, fresh int) {
	d.pool.Lock()
	defer d.pool.Unlock()
	return len(d.ready), d.freshQueued
}

// A fresh run that finds every worker busy waits for one to go idle, and is
// then executed as it would have been by an idle worker: created with its
// first attempt's start in one commit, not created queued first.
func TestAFreshRunWaitsForAWorkerToGoIdle(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &journal{}
	prov := blocker{j: j, release: make(chan struct{})}
	l, p, st := blockerRunner(t, ctx, prov, 1)
	d := l.disp
	require.Eventually(t, func() bool { return d.idleWorkers() == 1 }, 5*time.Second, time.Millisecond)
	first, _, err := l.submit(ctx, p.Workflows["w"], creation{engine: l.engine(), workflow: "w", trig: engine.Trigger{Kind: engine.KindWebhook}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(j.list()) == 2 }, 5*time.Second, time.Millisecond, "the first run's call is made")

	// The only worker is busy: the fresh run waits in the queue.
	second, ea := freshJob(t, ctx, l)
	took := make(chan bool, 1)
	go func() { took <- d.handOffWithin(second, ea.done, time.Minute) }()
	require.Eventually(t, func() bool { r, f := queued(d); return r == 1 && f == 1 }, 5*time.Second, time.Millisecond)
	close(prov.release)
	select {
	case ok := <-took:
		require.True(t, ok, "the worker that went idle took the fresh run")
	case <-time.After(10 * time.Second):
		t.Fatal("the fresh run was not taken when the worker went idle")
	}
	<-ea.done
	require.NoError(t, ea.out.err)
	require.Eventually(t, func() bool {
		got, err := st.GetRun(ctx, second.id)
		return err == nil && got.Status == store.StatusSucceeded
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"created " + first.ID, "sent", "created " + second.id, "sent"}, j.list(),
		"the waiting run was created with its attempt's start, as an eager run")
	r, f := queued(d)
	require.Zero(t, r)
	require.Zero(t, f)
}

// A fresh run that no worker takes within its wait is withdrawn from the
// queue (its submitter then creates it queued), and one that would wait
// behind a run already created is not queued at all.
func TestAFreshRunNoWorkerTakesIsWithdrawn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &journal{}
	prov := blocker{j: j, release: make(chan struct{})}
	l, p, _ := blockerRunner(t, ctx, prov, 1)
	defer close(prov.release)
	d := l.disp
	require.Eventually(t, func() bool { return d.idleWorkers() == 1 }, 5*time.Second, time.Millisecond)
	_, _, err := l.submit(ctx, p.Workflows["w"], creation{engine: l.engine(), workflow: "w", trig: engine.Trigger{Kind: engine.KindWebhook}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(j.list()) == 2 }, 5*time.Second, time.Millisecond, "the first run's call is made")

	fresh, ea := freshJob(t, ctx, l)
	start := time.Now()
	require.False(t, d.handOffWithin(fresh, ea.done, 20*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	r, f := queued(d)
	require.Zero(t, r, "withdrawn")
	require.Zero(t, f)

	// A run created queued waits for the worker: the fresh run does not
	// queue behind it.
	d.enqueue(job{id: "queued", workflow: "w"})
	start = time.Now()
	require.False(t, d.handOffWithin(fresh, ea.done, time.Minute))
	require.Less(t, time.Since(start), 30*time.Second)
	r, f = queued(d)
	require.Equal(t, 1, r)
	require.Zero(t, f)
	select {
	case <-ea.done:
		t.Fatal("a withdrawn run was executed")
	default:
	}
}
