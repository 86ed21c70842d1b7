package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// plug is a write that holds the writer inside its group transaction until
// released, so a test can line up the writes that queue behind it.
type plug struct {
	inside  chan struct{} // closed once the writer runs the plug
	in      sync.Once
	release chan struct{}
	once    sync.Once
	done    chan error // the plug's own result
}

// queuePlug queues a plug on s. A plug still in place when t ends is
// released then, so a failed test does not leave the writer stuck.
func queuePlug(t *testing.T, s *Store) *plug {
	t.Helper()
	p := &plug{inside: make(chan struct{}), release: make(chan struct{}), done: make(chan error, 1)}
	t.Cleanup(func() { p.once.Do(func() { close(p.release) }) })
	go func() {
		p.done <- s.withTx(context.Background(), func(context.Context, *wtx) error {
			// A write can run twice (when another of its group fails).
			p.in.Do(func() { close(p.inside) })
			<-p.release
			return nil
		})
	}()
	return p
}

// plugWriter queues a plug on s and waits until the writer runs it.
func plugWriter(t *testing.T, s *Store) *plug {
	t.Helper()
	p := queuePlug(t, s)
	select {
	case <-p.inside:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never ran the plug")
	}
	return p
}

// unplug releases p and waits for its commit.
func (p *plug) unplug(t *testing.T) {
	t.Helper()
	p.pull()
	require.NoError(t, <-p.done)
}

// pull releases p without waiting for its commit.
func (p *plug) pull() {
	p.once.Do(func() { close(p.release) })
}

// waitQueued waits until n writes wait in s's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		return len(s.w.queue) == n
	}, 10*time.Second, 100*time.Microsecond, "want %d queued writes", n)
}

// async runs fn on its own goroutine and returns its result's channel.
func async(fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

// TestGroupCommitUndoesAFailedWriteAlone lines up writes behind a plug, so
// they join its transaction, some failing after they have changed rows:
// each failure is undone alone and the others commit.
func TestGroupCommitUndoesAFailedWriteAlone(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err := s.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()}))
	require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusFailed, WillRetry: true, FinishedAt: time.Now()}))

	p := plugWriter(t, s)
	groups := s.w.groups.Load()
	first := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	second := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	results := []<-chan error{
		async(func() error { _, _, err := s.CreateRun(ctx, first, "api:w:first", time.Hour); return err }),
	}
	waitQueued(t, s, 1)
	// Its record upsert changes the row before the attempt's insert finds
	// attempt 1 taken: the savepoint must undo the upsert.
	results = append(results, async(func() error {
		return s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "fallback", StartedAt: time.Now()})
	}))
	waitQueued(t, s, 2)
	// A statement the database refuses: the foreign key to runs.
	results = append(results, async(func() error {
		return s.StartAttempt(ctx, store.StepKey{RunID: "no-such-run", StepID: "notify", Item: store.NoItem},
			store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()})
	}))
	waitQueued(t, s, 3)
	results = append(results, async(func() error { _, _, err := s.CreateRun(ctx, second, "", 0); return err }))
	waitQueued(t, s, 4)
	p.unplug(t)

	require.NoError(t, <-results[0])
	require.ErrorIs(t, <-results[1], store.ErrConflict)
	require.ErrorIs(t, <-results[2], store.ErrNotFound)
	require.NoError(t, <-results[3])
	require.Equal(t, groups+1, s.w.groups.Load(),
		"the four writes joined the plug's transaction, applied again once, write by write, after the first failure")

	for _, id := range []string{first.ID, second.ID} {
		_, err := s.GetRun(ctx, id)
		require.NoError(t, err, "the writes around the failures are committed")
	}
	recs, err := s.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "chatapi", recs[0].Provider, "the refused start changed nothing")
	require.Equal(t, 1, recs[0].Attempts)
}

// TestGroupCommitSharesOneCommit checks that writes queued while the writer
// applies a group join it before it commits, and each sees the ones before
// it.
func TestGroupCommitSharesOneCommit(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	p := plugWriter(t, s)
	groups := s.w.groups.Load()
	const writes = 20
	at := time.Now()
	var results []<-chan error
	for i := range writes {
		// All claim one key: the first creates the run, the others find it
		// in the same uncommitted transaction.
		results = append(results, async(func() error {
			got, existed, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w",
				Status: store.StatusQueued, CreatedAt: at}, "delivery:support:d-1", time.Hour)
			if err == nil && existed != (i > 0) {
				t.Errorf("write %d: existed = %v, run %s", i, existed, got.ID)
			}
			return err
		}))
		waitQueued(t, s, i+1)
	}
	p.unplug(t)
	for _, r := range results {
		require.NoError(t, <-r)
	}
	require.Equal(t, groups, s.w.groups.Load(), "one transaction for the plug and the writes queued behind it")
	runs, err := s.ListRuns(ctx, store.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

// TestCancelledBeforeTakenWritesNothing cancels a write that waits behind
// others: the call returns at once with the context's error, and the write
// is never made.
func TestCancelledBeforeTakenWritesNothing(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	p := plugWriter(t, s)
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	ctx, cancel := context.WithCancel(t.Context())
	result := async(func() error { _, _, err := s.CreateRun(ctx, run, "api:w:k", time.Hour); return err })
	waitQueued(t, s, 1)
	cancel()
	select {
	case err := <-result:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled call waited for the writer")
	}
	p.unplug(t)

	_, err := s.GetRun(t.Context(), run.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, existed, err := s.CreateRun(t.Context(), store.Run{ID: store.NewRunID(), Workflow: "w",
		Status: store.StatusQueued, CreatedAt: time.Now()}, "api:w:k", time.Hour)
	require.NoError(t, err)
	require.False(t, existed, "the key is free")
}

// TestCancelledAfterTakenWaitsForTheCommit cancels a write the writer has
// already applied in a transaction that has not committed: the call waits
// for the commit and reports the write as done, never an error for a write
// that is then committed.
func TestCancelledAfterTakenWaitsForTheCommit(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	first := plugWriter(t, s)
	groups := s.w.groups.Load()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	ctx, cancel := context.WithCancel(t.Context())
	result := async(func() error { _, _, err := s.CreateRun(ctx, run, "", 0); return err })
	waitQueued(t, s, 1)
	// A second plug behind the write joins the same group and holds it open
	// after the write.
	second := queuePlug(t, s)
	waitQueued(t, s, 2)
	first.pull()
	<-second.inside // the write is applied, its group not committed
	require.Equal(t, groups, s.w.groups.Load(), "the write and the second plug joined the first plug's group")

	cancel()
	select {
	case err := <-result:
		t.Fatalf("the call returned %v before its write was committed", err)
	case <-time.After(100 * time.Millisecond):
	}
	second.unplug(t)
	require.NoError(t, <-first.done)
	require.NoError(t, <-result)
	_, err := s.GetRun(t.Context(), run.ID)
	require.NoError(t, err)
}

// TestCloseCommitsQueuedWrites closes the store while writes wait: they are
// committed, and writes after Close fail.
func TestCloseCommitsQueuedWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(t.Context(), path)
	require.NoError(t, err)
	p := plugWriter(t, s)
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
	result := async(func() error { _, _, err := s.CreateRun(t.Context(), run, "", 0); return err })
	waitQueued(t, s, 1)
	closed := async(s.Close)
	require.Eventually(t, func() bool {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		return s.w.closed
	}, 10*time.Second, 100*time.Microsecond)
	_, _, err = s.CreateRun(t.Context(), store.Run{ID: store.NewRunID(), Workflow: "w",
		Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
	require.ErrorIs(t, err, errClosed)
	p.unplug(t)
	require.NoError(t, <-result)
	require.NoError(t, <-closed)

	s = openAt(t, path)
	_, err = s.GetRun(t.Context(), run.ID)
	require.NoError(t, err, "the write queued before Close is there")
}

// TestWritesReuseTheirPreparedStatements checks the statement cache: a
// write's statements are prepared once, not on every call.
func TestWritesReuseTheirPreparedStatements(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err := s.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)
	pair := func(item int) {
		key := store.StepKey{RunID: run.ID, StepID: "each", Item: item}
		require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()}))
		require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
			Output: json.RawMessage(`{"sent":true}`), FinishedAt: time.Now()}))
	}
	pair(0)
	prepared := statements(t, s)
	require.NotZero(t, prepared)
	for i := 1; i <= 10; i++ {
		pair(i)
	}
	require.Equal(t, prepared, statements(t, s))
}

// statements returns how many statements the writer has prepared.
func statements(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.withTx(t.Context(), func(context.Context, *wtx) error {
		n = len(s.w.stmts) // read on the writer's goroutine, which owns the map
		return nil
	}))
	return n
}

// TestBackgroundWriteYieldsToQueuedWrites queues a background write, then
// two writes, behind a plug: the two go first, in the plug's group, and the
// background write runs after them in a transaction of its own, which
// reports how long it held the writer.
func TestBackgroundWriteYieldsToQueuedWrites(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	p := plugWriter(t, s)
	groups := s.w.groups.Load()

	var mu sync.Mutex
	var order []string
	var bgGroup int64
	note := func(what string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, what)
	}
	type result struct {
		held time.Duration
		err  error
	}
	bg := make(chan result, 1)
	go func() {
		held, err := s.w.doBackground(ctx, func(ctx context.Context, tx *wtx) error {
			bgGroup = s.w.groups.Load()
			note("background")
			time.Sleep(5 * time.Millisecond)
			return nil
		}, nil)
		bg <- result{held, err}
	}()
	require.Eventually(t, func() bool {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		return len(s.w.later) == 1
	}, 10*time.Second, 100*time.Microsecond)
	var results []<-chan error
	for i := range 2 {
		results = append(results, async(func() error {
			return s.withTx(ctx, func(context.Context, *wtx) error {
				note(fmt.Sprintf("write %d", i))
				return nil
			})
		}))
		waitQueued(t, s, i+1)
	}
	p.unplug(t)
	for _, r := range results {
		require.NoError(t, <-r)
	}
	r := <-bg
	require.NoError(t, r.err)
	require.Equal(t, []string{"write 0", "write 1", "background"}, order, "the queued writes went first")
	require.Equal(t, groups+1, bgGroup, "the background write has a transaction of its own, after the plug's group")
	require.GreaterOrEqual(t, r.held, 5*time.Millisecond, "held counts the write's own time")
}

// TestBackgroundWriteRunsUnderSteadyWrites keeps the writer's queue full:
// a background write still runs, once it has waited backgroundStarve, and
// no other write joins its transaction.
func TestBackgroundWriteRunsUnderSteadyWrites(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	stop := keepWriting(4, func() {
		_, _, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
		require.NoError(t, err)
	})
	defer stop()
	time.Sleep(50 * time.Millisecond) // the writers are going
	var joined int
	done := make(chan error, 1)
	go func() {
		_, err := s.w.doBackground(ctx, func(ctx context.Context, tx *wtx) error {
			before := s.w.groups.Load()
			time.Sleep(20 * time.Millisecond) // writes queue meanwhile
			s.w.mu.Lock()
			joined = len(s.w.queue)
			s.w.mu.Unlock()
			if s.w.groups.Load() != before {
				return fmt.Errorf("another transaction began inside the background write's")
			}
			return nil
		}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the background write never ran under steady writes")
	}
	require.NotZero(t, joined, "writes queued during the background write were left for the next group")
}

// TestStepSizeAimsAtTheTarget checks the sizing of background writes: in
// proportion to the time one held the writer, at most halved or doubled at
// once, within its bounds, and a short write cut by its limit does not grow
// the size.
func TestStepSizeAimsAtTheTarget(t *testing.T) {
	t.Parallel()
	z := newStepSize(50, 8, 400)
	require.Equal(t, 50, z.next(1000))
	require.Equal(t, 20, z.next(20))
	z.observe(50, 4*backgroundTarget)
	require.Equal(t, 25, z.next(1000), "four times too long: halved, no more")
	z.observe(25, backgroundTarget*5/4)
	require.Equal(t, 20, z.next(1000), "a quarter too long: in proportion")
	z.observe(20, backgroundTarget/10)
	require.Equal(t, 40, z.next(1000), "ten times too short: doubled, no more")
	z.observe(10, backgroundTarget/10)
	require.Equal(t, 40, z.next(1000), "a write cut short by its limit does not grow the size")
	for range 10 {
		z.observe(z.next(1000), 10*backgroundTarget)
	}
	require.Equal(t, 8, z.next(1000), "never below the least")
	for range 20 {
		z.observe(z.next(1000), time.Microsecond)
	}
	require.Equal(t, 400, z.next(1000), "never above the most")
}

// TestPruneRunsLeavesWebhooksTheirGroup queues the retention's deletes, then
// a new run, behind a plug: the run joins the plug's group and is answered
// with it, and the deletes run after it in a transaction of their own, so
// a webhook's write never waits for a delete batch to be applied or shares
// its commit.
func TestPruneRunsLeavesWebhooksTheirGroup(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	old := time.Now().Add(-48 * time.Hour)
	for range 3 {
		_, _, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusSucceeded,
			CreatedAt: old, StartedAt: old, FinishedAt: old}, "", 0)
		require.NoError(t, err)
	}
	p := plugWriter(t, s)
	groups := s.w.groups.Load()
	type result struct {
		n   int64
		err error
	}
	pruned := make(chan result, 1)
	go func() {
		n, err := s.PruneRuns(ctx, time.Now().Add(-time.Hour), 50)
		pruned <- result{n, err}
	}()
	require.Eventually(t, func() bool {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		return len(s.w.later) == 1
	}, 10*time.Second, 100*time.Microsecond, "the deletes wait as a background write")
	fresh := async(func() error {
		_, _, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
		return err
	})
	waitQueued(t, s, 1)
	p.unplug(t)
	require.NoError(t, <-fresh)
	r := <-pruned
	require.NoError(t, r.err)
	require.EqualValues(t, 3, r.n)
	require.Equal(t, groups+1, s.w.groups.Load(), "the run joined the plug's group; the deletes had one of their own")
}
