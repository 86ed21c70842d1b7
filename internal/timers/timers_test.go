package timers_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler/clocktest"
	"github.com/heraldhq/herald/internal/timers"
)

// recorder collects fired keys.
type recorder struct {
	mu    sync.Mutex
	fired []timers.Key
	ch    chan timers.Key
}

func (r *recorder) fire(_ context.Context, k timers.Key, _ time.Time) {
	r.mu.Lock()
	r.fired = append(r.fired, k)
	r.mu.Unlock()
	r.ch <- k
}

func setup(t *testing.T) (*timers.Timers, *clocktest.Clock, *recorder) {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	rec := &recorder{ch: make(chan timers.Key, 100)}
	tm := timers.New(rec.fire, timers.Options{Clock: clock, Workers: 1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { tm.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return tm, clock, rec
}

func next(t *testing.T, r *recorder) timers.Key {
	t.Helper()
	select {
	case k := <-r.ch:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no timer fired")
		return timers.Key{}
	}
}

func TestTimersFireInTimeOrderAndOnce(t *testing.T) {
	t.Parallel()
	tm, clock, rec := setup(t)
	now := clock.Now()
	a := timers.Key{RunID: "r1", StepID: "wait", Item: -1}
	b := timers.Key{RunID: "r2", StepID: "wait", Item: 3}
	c := timers.Key{RunID: "r3", StepID: "wait", Item: -1}
	tm.Set(b, now.Add(2*time.Minute))
	tm.Set(a, now.Add(time.Minute))
	tm.Set(c, now.Add(time.Hour))
	require.Equal(t, 3, tm.Len())
	require.True(t, tm.Cancel(c), "a canceled timer never fires")
	require.False(t, tm.Cancel(c))

	// Wait until the loop sleeps on the minute timer, then move past both.
	require.Eventually(t, func() bool { return clock.Timers() > 0 }, 10*time.Second, time.Millisecond)
	clock.Advance(3 * time.Minute)
	require.Equal(t, a, next(t, rec))
	require.Equal(t, b, next(t, rec))
	require.Equal(t, 0, tm.Len())
	select {
	case k := <-rec.ch:
		t.Fatalf("%v fired again", k)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSetReplacesTheTimeOfAKey(t *testing.T) {
	t.Parallel()
	tm, clock, rec := setup(t)
	k := timers.Key{RunID: "r", StepID: "s", Item: -1}
	tm.Set(k, clock.Now().Add(time.Hour))
	tm.Set(k, clock.Now().Add(time.Second))
	require.Equal(t, 1, tm.Len())
	at, ok := tm.Next()
	require.True(t, ok)
	require.Equal(t, clock.Now().Add(time.Second), at)
	require.Eventually(t, func() bool { return clock.Timers() > 0 }, 10*time.Second, time.Millisecond)
	clock.Advance(time.Second)
	require.Equal(t, k, next(t, rec))
}

func TestATimeInThePastFiresAtOnce(t *testing.T) {
	t.Parallel()
	tm, clock, rec := setup(t)
	k := timers.Key{RunID: "r", StepID: "s", Item: -1}
	tm.Set(k, clock.Now().Add(-time.Hour))
	require.Equal(t, k, next(t, rec))
}

// TestWorkersStartOnDemandAndEnd checks that Run holds no idle worker
// goroutines: none while no timer is due, up to Workers while timers fire
// together, and none again once they have fired.
func TestWorkersStartOnDemandAndEnd(t *testing.T) {
	const workers = 16
	release := make(chan struct{})
	var firing atomic.Int32
	tm := timers.New(func(context.Context, timers.Key, time.Time) {
		firing.Add(1)
		<-release
	}, timers.Options{Workers: workers})
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { tm.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond)
	require.LessOrEqual(t, runtime.NumGoroutine()-before, 2, "Run alone, no workers waiting")

	past := time.Now().Add(-time.Second)
	for i := range workers + 4 {
		tm.Set(timers.Key{RunID: "r", StepID: "s", Item: i}, past)
	}
	require.Eventually(t, func() bool { return firing.Load() == workers }, 5*time.Second, time.Millisecond,
		"as many fire at once as there are workers")
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, int32(workers), firing.Load(), "no more")
	close(release)
	require.Eventually(t, func() bool { return tm.Len() == 0 && runtime.NumGoroutine()-before <= 2 },
		5*time.Second, time.Millisecond, "the workers end once every timer has fired")
}
