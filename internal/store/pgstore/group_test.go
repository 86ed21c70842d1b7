package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// TestGroupBatchesTheItemsQueuedWhileABatchRuns checks the group commit's
// batching: with one batch in flight, the items added meanwhile wait and
// then go in one batch, at most MaxBatch at a time.
func TestGroupBatchesTheItemsQueuedWhileABatchRuns(t *testing.T) {
	release := make(chan struct{})
	var (
		mu      sync.Mutex
		batches [][]int
	)
	g := &Group[int]{MaxBatch: 3, MaxInFlight: 1, Commit: func(batch []int) {
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, slices.Clone(batch))
		mu.Unlock()
		if first {
			<-release
		}
	}}
	g.Add(0)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i <= 5; i++ {
		g.Add(i)
	}
	close(release)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 3 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, [][]int{{0}, {1, 2, 3}, {4, 5}}, batches)
}

// TestGroupedStatementsEachGetTheirOwnOutcome runs a batch of statements
// in which one fails: the batch's transaction rolls back, and each
// statement is then run alone, so the failing one gets its error and the
// others commit, each once.
func TestGroupedStatementsEachGetTheirOwnOutcome(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := context.Background()
	insert := s.sql(`INSERT INTO {schema}.cron_state (workflow, trigger_key, last_fire, next_fire) VALUES ($1, 'k', now(), now())`)
	var batch []*write
	for _, wf := range []string{"a", "b", "a", "c"} { // the second "a" violates the primary key
		batch = append(batch, &write{ctx: ctx, stmts: []stmt{{sql: insert, args: []any{wf}}}, done: make(chan struct{})})
	}
	s.commitWrites(batch)
	requireOutcomes(t, batch, 2)
	for i, w := range batch {
		if i != 2 {
			require.EqualValues(t, 1, w.tag.RowsAffected(), "statement %d", i)
		}
	}
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, s.sql(`SELECT count(*) FROM {schema}.cron_state`)).Scan(&n))
	require.Equal(t, 3, n)

	// A batch that succeeds commits every statement, each with its own
	// result.
	update := s.sql(`UPDATE {schema}.cron_state SET trigger_key = 'k2' WHERE workflow = $1`)
	batch = batch[:0]
	for _, wf := range []string{"a", "nope", "c"} {
		batch = append(batch, &write{ctx: ctx, stmts: []stmt{{sql: update, args: []any{wf}}}, done: make(chan struct{})})
	}
	s.commitWrites(batch)
	for i, w := range batch {
		<-w.done
		require.NoError(t, w.err)
		require.EqualValues(t, map[int]int64{0: 1, 1: 0, 2: 1}[i], w.tag.RowsAffected(), "statement %d", i)
	}
	require.NoError(t, s.pool.QueryRow(ctx, s.sql(`SELECT count(*) FROM {schema}.cron_state WHERE trigger_key = 'k2'`)).Scan(&n))
	require.Equal(t, 2, n)
}

// TestConcurrentWritesShareCommits runs many store writes at once and
// checks they all land, and that they shared transactions.
func TestConcurrentWritesShareCommits(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := context.Background()
	var (
		mu      sync.Mutex
		largest int
	)
	commit := s.writes.Commit
	s.writes.Commit = func(batch []*write) {
		mu.Lock()
		largest = max(largest, len(batch))
		mu.Unlock()
		commit(batch)
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.SetCronState(ctx, store.CronState{Workflow: fmt.Sprintf("w%d", i), Trigger: "t",
				Last: time.Now(), Next: time.Now().Add(time.Minute)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var rows int
	require.NoError(t, s.pool.QueryRow(ctx, s.sql(`SELECT count(*) FROM {schema}.cron_state`)).Scan(&rows))
	require.Equal(t, n, rows)
	require.Greater(t, largest, 1, "no two of %d concurrent writes shared a transaction", n)
}

// TestGroupedWritesOfSeveralStatementsAreAllOrNothing: a write of several
// statements shares a batch with others and commits whole; one whose last
// statement fails writes none of its statements, alone or in the batch,
// and the other writes commit.
func TestGroupedWritesOfSeveralStatementsAreAllOrNothing(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := context.Background()
	insert := s.sql(`INSERT INTO {schema}.cron_state (workflow, trigger_key, last_fire, next_fire) VALUES ($1, 'k', now(), now())`)
	unit := func(wfs ...string) *write {
		w := &write{ctx: ctx, done: make(chan struct{})}
		for _, wf := range wfs {
			w.stmts = append(w.stmts, stmt{sql: insert, args: []any{wf}})
		}
		return w
	}
	// The third write's second statement repeats its first's key.
	batch := []*write{unit("a", "b"), unit("c"), unit("d", "d"), unit("e", "f")}
	s.commitWrites(batch)
	requireOutcomes(t, batch, 2)
	var got []string
	rows, err := s.pool.Query(ctx, s.sql(`SELECT workflow FROM {schema}.cron_state ORDER BY workflow`))
	require.NoError(t, err)
	for rows.Next() {
		var wf string
		require.NoError(t, rows.Scan(&wf))
		got = append(got, wf)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"a", "b", "c", "e", "f"}, got, "the failed write left nothing, the others all")
}

// requireOutcomes waits for each write of batch and requires it to have
// succeeded, except the one at index failed, which must have failed.
func requireOutcomes(t *testing.T, batch []*write, failed int) {
	t.Helper()
	for i, w := range batch {
		<-w.done
		if i == failed {
			require.Error(t, w.err, "write %d", i)
			continue
		}
		require.NoError(t, w.err, "write %d", i)
	}
}
