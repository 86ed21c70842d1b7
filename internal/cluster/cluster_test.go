package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

func TestCreateRunQueuesItsJobInTheSameTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		<-ctx.Done() // keep the job running while the test looks
		return store.Run{}, interrupted
	}
	r := b.start("a", time.Minute)

	run, existed := r.create(t, "w", "api:w:k1")
	require.False(t, existed)
	again, existed := r.create(t, "w", "api:w:k1")
	require.True(t, existed, "a repeated key finds the first run")
	require.Equal(t, run.ID, again.ID)
	waitFor(t, 10*time.Second, "the run's job to start", func() bool { return jobs(t, r.st, run.ID)["running"] == 1 })
	require.Equal(t, map[string]int{"running": 1}, jobs(t, r.st, run.ID), "one job for the run, none for the repeat")
}

func TestEveryRunExecutesOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	executed := map[string]string{}
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		mu.Lock()
		if prev, ok := executed[id]; ok {
			mu.Unlock()
			return store.Run{}, fmt.Errorf("run %s executed by %s and %s", id, prev, r.name)
		}
		executed[id] = r.name
		mu.Unlock()
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	rs := []*replica{b.start("a", time.Minute), b.start("b", time.Minute), b.start("c", time.Minute)}

	const runs = 300
	for i := range runs {
		rs[i%3].create(t, "w", "")
	}
	waitFor(t, 30*time.Second, "every run to execute", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(executed) == runs
	})
	per := map[string]int{}
	mu.Lock()
	for _, name := range executed {
		per[name]++
	}
	mu.Unlock()
	t.Logf("runs executed per replica: %v", per)
	var calls int64
	for _, r := range rs {
		calls += r.calls.Load()
	}
	require.EqualValues(t, runs, calls, "no run is executed twice")
}

func TestASliceCheckpointsAndTheRunResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var slices atomic.Int64
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		if slices.Add(1) < 3 {
			<-ctx.Done() // a long step: the slice ends first
			return store.Run{}, interrupted
		}
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	r := b.start("a", 200*time.Millisecond)
	run, _ := r.create(t, "w", "")
	waitFor(t, 20*time.Second, "the run to finish", func() bool {
		got, err := r.st.GetRun(context.Background(), run.ID)
		require.NoError(t, err)
		return got.Status == store.StatusSucceeded
	})
	require.EqualValues(t, 3, slices.Load(), "two slices checkpointed, the third finished")
	waitFor(t, 10*time.Second, "the job to complete", func() bool { return jobs(t, r.st, run.ID)["completed"] == 1 })
}

func TestAResumedRunWaitsOutItsRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const retryAfter = 1500 * time.Millisecond
	var (
		mu      sync.Mutex
		started []time.Time
	)
	var r *replica
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		mu.Lock()
		started = append(started, time.Now())
		n := len(started)
		mu.Unlock()
		if n == 1 {
			// A provider answered 429 with Retry-After; the engine waits,
			// and the slice ends during the wait.
			r.c.Observe(engine.Event{Type: engine.AttemptFailed, Time: time.Now(), RunID: id, StepID: "s", Item: store.NoItem, RetryIn: retryAfter})
			<-ctx.Done()
			return store.Run{}, interrupted
		}
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	r = b.start("a", 100*time.Millisecond)
	run, _ := r.create(t, "w", "")
	waitFor(t, 20*time.Second, "the run to finish", func() bool {
		got, err := r.st.GetRun(context.Background(), run.ID)
		require.NoError(t, err)
		return got.Status == store.StatusSucceeded
	})
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, started, 2)
	require.GreaterOrEqual(t, started[1].Sub(started[0]), retryAfter, "the second slice starts after the Retry-After")
}

func TestOneReplicaLeadsAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := b.start("a", time.Minute), b.start("b", time.Minute)
	waitFor(t, 30*time.Second, "a leader", func() bool { return a.c.IsLeader() || c.c.IsLeader() })
	require.False(t, a.c.IsLeader() && c.c.IsLeader(), "never two leaders")
	leader, other := a, c
	if c.c.IsLeader() {
		leader, other = c, a
	}
	// A leader that stops resigns, and the other replica takes over.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, leader.c.Stop(ctx))
	require.False(t, leader.c.IsLeader(), "a stopped replica does not lead")
	waitFor(t, 30*time.Second, "the other replica to lead", other.c.IsLeader)
}

func TestConcurrencyLimitHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.project.Workflows["limited"] = &config.Workflow{Name: "limited", Concurrency: config.Concurrency{Limit: 2, OnLimit: config.OnLimitQueue},
		Steps: []*config.Step{{ID: "s", Timeout: time.Second}}}
	var running, peak atomic.Int64
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(150 * time.Millisecond)
		running.Add(-1)
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	rs := []*replica{b.start("a", time.Minute), b.start("b", time.Minute)}
	const runs = 8
	ids := make([]string, runs)
	for i := range runs {
		run, _ := rs[i%2].create(t, "limited", "")
		ids[i] = run.ID
	}
	waitFor(t, 60*time.Second, "every limited run to finish", func() bool {
		for _, id := range ids {
			got, err := rs[0].st.GetRun(context.Background(), id)
			require.NoError(t, err)
			if got.Status != store.StatusSucceeded {
				return false
			}
		}
		return true
	})
	t.Logf("peak of limited runs executing at once across 2 replicas: %d (limit 2)", peak.Load())
	require.LessOrEqual(t, peak.Load(), int64(2))
	require.EqualValues(t, 2, peak.Load(), "the limit is used, not just respected")
}

func TestOnLimitSkipAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.project.Workflows["single"] = &config.Workflow{Name: "single", Concurrency: config.Concurrency{Limit: 1, OnLimit: config.OnLimitSkip},
		Steps: []*config.Step{{ID: "s", Timeout: time.Second}}}
	release := make(chan struct{})
	var firstStarted atomic.Bool
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		firstStarted.Store(true)
		<-release
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	a, c := b.start("a", time.Minute), b.start("b", time.Minute)
	first, _ := a.create(t, "single", "")
	waitFor(t, 10*time.Second, "the first run to start", firstStarted.Load)
	second, _ := c.create(t, "single", "")
	waitFor(t, 10*time.Second, "the second run to be skipped", func() bool {
		_, ok := b.skipped.Load(second.ID)
		return ok
	})
	close(release)
	waitFor(t, 10*time.Second, "the first run to finish", func() bool {
		got, err := a.st.GetRun(context.Background(), first.ID)
		require.NoError(t, err)
		return got.Status == store.StatusSucceeded
	})
	reason, _ := b.skipped.Load(second.ID)
	require.Contains(t, reason, "concurrency limit of 1")
}

func TestRateLimitIsSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := b.start("a", time.Minute), b.start("b", time.Minute)
	limiters := []*cluster.RateLimiter{a.c.RateLimiter(), c.c.RateLimiter()}
	const calls = 22 // 2 at once, then 20 at 20/s: about a second
	start := time.Now()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			d, err := limiters[i%2].Reserve(context.Background(), "slow", 50*time.Millisecond, 2)
			assert.NoError(t, err)
			time.Sleep(d)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d calls across 2 replicas at 20/s with a burst of 2 took %s", calls, elapsed.Round(time.Millisecond))
	require.GreaterOrEqual(t, elapsed, 950*time.Millisecond, "the replicas share one budget")
	require.Less(t, elapsed, 3*time.Second)

	d, err := limiters[0].Reserve(context.Background(), "slow:+4915112345678", time.Minute, 1)
	require.NoError(t, err)
	require.Zero(t, d, "another key has a budget of its own")
	d, err = limiters[1].Reserve(context.Background(), "slow:+4915112345678", time.Minute, 1)
	require.NoError(t, err)
	require.Greater(t, d, 55*time.Second, "a recipient's second call within the minute waits for it, on any replica")
}

func TestAdoptQueuesAnOrphanRunOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		<-release
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	a, c := b.start("a", time.Minute), b.start("b", time.Minute)
	// A run stored without a job, as a host outside the cluster leaves it.
	orphan := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err := a.st.CreateRun(context.Background(), orphan, "", 0)
	require.NoError(t, err)
	var wg sync.WaitGroup
	var adopted atomic.Int64
	for _, r := range []*replica{a, c, a, c} {
		wg.Go(func() {
			n, err := r.c.Adopt(context.Background())
			assert.NoError(t, err)
			adopted.Add(int64(n))
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, adopted.Load(), "racing adopters queue the run once")
	close(release)
	waitFor(t, 10*time.Second, "the adopted run to finish", func() bool {
		got, err := a.st.GetRun(context.Background(), orphan.ID)
		require.NoError(t, err)
		return got.Status == store.StatusSucceeded
	})
	require.EqualValues(t, 1, a.calls.Load()+c.calls.Load())
}

func TestAdmitRefusesWhenTheQueueIsFull(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.maxQueued = 3
	idle := b.start("idle", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, idle.c.Stop(ctx), "a replica that executes nothing, so runs stay queued")
	for range 3 {
		idle.create(t, "w", "")
	}
	time.Sleep(150 * time.Millisecond) // let the cached depth expire
	err := idle.c.Admit(context.Background(), 300*time.Millisecond)
	require.ErrorIs(t, err, cluster.ErrFull)

	b.start("worker", time.Minute) // executes the queued runs
	require.NoError(t, idle.c.Admit(context.Background(), 20*time.Second), "room once the runs start")
}

// TestResubmitWhileTheEndingJobIsLive: an operator queues a run again (a
// resolve, a retry) right after it ended needing attention, while the job
// that ended it is still live in River. The run's new job must not be
// taken for a duplicate of that one: the run executes again and succeeds.
func TestResubmitWhileTheEndingJobIsLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ended := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		if calls.Add(1) > 1 {
			return finish(ctx, r.st, id, store.StatusSucceeded)
		}
		run, err := r.st.UpdateRun(ctx, id, func(r *store.Run) error {
			r.Status, r.Reason = store.StatusNeedsAttention, "send in doubt"
			return nil
		})
		close(ended)
		<-release // the job stays running
		return run, err
	}
	r := b.start("a", time.Minute)
	run, _ := r.create(t, "w", "")
	<-ended
	run, err := r.st.UpdateRun(context.Background(), run.ID, func(r *store.Run) error {
		r.Status, r.Reason = store.StatusQueued, ""
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, r.c.Resubmit(context.Background(), run))
	close(release)
	waitFor(t, 20*time.Second, "the run to execute again and succeed", func() bool {
		got, err := r.st.GetRun(context.Background(), run.ID)
		require.NoError(t, err)
		return got.Status == store.StatusSucceeded
	})
	require.Equal(t, int64(2), calls.Load())
}
