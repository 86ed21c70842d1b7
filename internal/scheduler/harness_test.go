package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler"
	"github.com/heraldhq/herald/internal/scheduler/clocktest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

var _ scheduler.Clock = (*clocktest.Clock)(nil)

// wait bounds every wait of a test for something the scheduler does in
// another goroutine. It is long so that a loaded machine does not fail a
// test; a passing test never waits that long.
const wait = 10 * time.Second

// fired is one call of Fire.
type fired struct {
	due scheduler.Due
	// existed is set when the run already existed under the fire's key.
	existed bool
	runID   string
}

// harness is a scheduler on a fake clock and a SQLite store, whose Fire
// creates runs as the host does.
type harness struct {
	t     *testing.T
	clock *clocktest.Clock
	store *flakyStore
	obs   *recorder
	logs  *syncBuffer
	fires chan fired
	sched *scheduler.Scheduler
	// fail, when set, decides whether a Fire call fails before creating the
	// run.
	fail func(d scheduler.Due) error
	// block, when set, is called before Fire creates the run.
	block func(d scheduler.Due)
	opts  scheduler.Options
	stop  func()
}

// setup returns a harness whose clock reads now, with a fresh SQLite store.
func setup(t *testing.T, now time.Time, configure ...func(*scheduler.Options)) *harness {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return setupWith(t, clocktest.New(now), &flakyStore{Store: s}, configure...)
}

// setupWith returns a harness on an existing clock and store, as after a
// restart.
func setupWith(t *testing.T, clock *clocktest.Clock, st *flakyStore, configure ...func(*scheduler.Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock, store: st, obs: &recorder{}, logs: &syncBuffer{}, fires: make(chan fired, 10_000)}
	h.opts = scheduler.Options{
		Store:    st,
		Fire:     h.fire,
		Clock:    clock,
		Observer: h.obs,
		Logger:   hclog.New(&hclog.LoggerOptions{Output: h.logs, Level: hclog.Debug}),
	}
	for _, c := range configure {
		c(&h.opts)
	}
	sched, err := scheduler.New(h.opts)
	require.NoError(t, err)
	h.sched = sched
	return h
}

// fire is the harness's Options.Fire: it creates a queued run under the
// fire's idempotency key, as the host does.
func (h *harness) fire(ctx context.Context, d scheduler.Due) error {
	if h.block != nil {
		h.block(d)
	}
	if h.fail != nil {
		if err := h.fail(d); err != nil {
			return err
		}
	}
	run := store.Run{ID: store.NewRunID(), Workflow: d.Workflow, Status: store.StatusQueued, CreatedAt: h.clock.Now()}
	stored, existed, err := h.store.CreateRun(ctx, run, d.IdempotencyKey(), 24*time.Hour)
	if err != nil {
		return err
	}
	h.fires <- fired{due: d, existed: existed, runID: stored.ID}
	return nil
}

// run starts Run in the background; the test's cleanup stops it.
func (h *harness) run() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.sched.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(h.t, err)
			case <-time.After(wait):
				h.t.Fatal("Run did not return after its context ended")
			}
		})
	}
	h.t.Cleanup(h.stop)
}

// next returns the next Fire call.
func (h *harness) next() fired {
	h.t.Helper()
	select {
	case f := <-h.fires:
		return f
	case <-time.After(wait):
		h.t.Fatal("no fire")
		return fired{}
	}
}

// expect returns the next n Fire calls, in the order they were made.
func (h *harness) expect(n int) []fired {
	h.t.Helper()
	out := make([]fired, n)
	for i := range out {
		out[i] = h.next()
	}
	return out
}

// quiet checks that Fire is not called for a while.
func (h *harness) quiet() {
	h.t.Helper()
	select {
	case f := <-h.fires:
		h.t.Fatalf("unexpected fire of %s %s at %s", f.due.Workflow, f.due.TriggerKey, stamp(f.due.ScheduledTime))
	case <-time.After(100 * time.Millisecond):
	}
}

// asleepUntil waits until the scheduler sleeps until at, or for its longest
// sleep when at is further away.
func (h *harness) asleepUntil(at time.Time) {
	h.t.Helper()
	want := at
	if limit := h.clock.Now().Add(scheduler.MaxSleep); limit.Before(want) {
		want = limit
	}
	require.Eventually(h.t, func() bool {
		got, ok := h.clock.NextTimer()
		return ok && got.Equal(want)
	}, wait, time.Millisecond, "the scheduler does not sleep until %s", stamp(want))
}

// state returns the stored state of a trigger.
func (h *harness) state(workflow, key string) store.CronState {
	h.t.Helper()
	st, err := h.store.CronState(context.Background(), workflow, key)
	require.NoError(h.t, err)
	return st
}

// stateReaches waits until the stored state of a trigger has next as Next
// and last as Last.
func (h *harness) stateReaches(workflow, key string, last, next time.Time) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		st, err := h.store.CronState(context.Background(), workflow, key)
		return err == nil && st.Next.Equal(next) && st.Last.Equal(last)
	}, wait, time.Millisecond, "stored state of %s %s never became last %s, next %s", workflow, key, last, next)
}

// runs returns the runs of workflow in the store.
func (h *harness) runs(workflow string) []store.Run {
	h.t.Helper()
	runs, err := h.store.ListRuns(context.Background(), store.RunFilter{Workflow: workflow})
	require.NoError(h.t, err)
	return runs
}

// flakyStore is a store whose cron state writes can be made to fail.
type flakyStore struct {
	store.Store
	failWrites atomic.Bool
	writes     atomic.Int64
}

var errStoreDown = errors.New("store is down")

func (s *flakyStore) SetCronState(ctx context.Context, st store.CronState) error {
	if s.failWrites.Load() {
		return errStoreDown
	}
	s.writes.Add(1)
	return s.Store.SetCronState(ctx, st)
}

// recorder is an Observer that remembers what it saw.
type recorder struct {
	mu     sync.Mutex
	lags   []time.Duration
	missed map[scheduler.MissReason]int
}

func (r *recorder) Fired(_ scheduler.Due, lag time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lags = append(r.lags, lag)
}

func (r *recorder) Missed(_, _ string, reason scheduler.MissReason, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.missed == nil {
		r.missed = map[scheduler.MissReason]int{}
	}
	r.missed[reason] += n
}

// misses returns the missed fires counted so far by reason.
func (r *recorder) misses() map[scheduler.MissReason]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[scheduler.MissReason]int{}
	for k, v := range r.missed {
		out[k] = v
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// scheduledTimes returns the scheduled times of fires, stamped.
func scheduledTimes(fs []fired) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = stamp(f.due.ScheduledTime)
	}
	return out
}

// sortedTimes returns the scheduled times of fires, stamped and sorted.
func sortedTimes(fs []fired) []string {
	out := scheduledTimes(fs)
	slices.Sort(out)
	return out
}
