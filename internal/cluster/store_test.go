package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
)

// TestConcurrentCreatesEachGetTheirOwnOutcome creates many runs at once, so
// that they share transactions, among them a run whose ID is taken and
// repeats of one idempotency key: the taken ID fails alone, the repeats all
// find one run, and every other run is stored with exactly one job.
func TestConcurrentCreatesEachGetTheirOwnOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		<-ctx.Done() // keep the jobs live while the test looks
		return store.Run{}, interrupted
	}
	r := b.start("a", time.Minute)
	taken, _ := r.create(t, "w", "")

	const n = 60
	type outcome struct {
		run     store.Run
		existed bool
		err     error
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
			key, ttl := "", time.Duration(0)
			switch {
			case i == n/2:
				run.ID = taken.ID
			case i%10 == 3:
				key, ttl = "api:w:repeat", time.Hour
			}
			out[i].run, out[i].existed, out[i].err = r.c.Store().CreateRun(context.Background(), run, key, ttl)
		})
	}
	wg.Wait()

	keyed := map[string]bool{}
	for i, o := range out {
		switch {
		case i == n/2:
			require.ErrorIs(t, o.err, store.ErrConflict, "the taken run ID")
			continue
		case i%10 == 3:
			require.NoError(t, o.err)
			keyed[o.run.ID] = true
		default:
			require.NoError(t, o.err, fmt.Sprintf("create %d", i))
			require.False(t, o.existed)
		}
		got, err := r.st.GetRun(context.Background(), o.run.ID)
		require.NoError(t, err)
		require.Equal(t, o.run.ID, got.ID)
		waitFor(t, 10*time.Second, "the run's one job", func() bool {
			j := jobs(t, r.st, o.run.ID)
			return j["running"]+j["available"] == 1 && len(j) == 1
		})
	}
	require.Len(t, keyed, 1, "every repeat of the key finds the same run")
	require.Equal(t, map[string]int{"running": 1}, jobs(t, r.st, taken.ID), "the taken ID's run keeps its one job")
}

// TestCreatesShareOneInsertPerTransaction: runs created at once share
// transactions, and a transaction inserts all its runs without an
// idempotency key in one statement, sent with its BEGIN, so its round
// trips do not grow with the runs it holds: BEGIN with the runs, the jobs,
// COMMIT (and now and then River's notification of new jobs).
func TestCreatesShareOneInsertPerTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rt := &pgtest.RoundTrips{}
	b.tracer = rt
	r := b.start("a", time.Minute)
	r.create(t, "w", "") // prepares the statements

	const n = 48
	ctx := rt.Context(context.Background())
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
			got, _, err := r.c.Store().CreateRun(ctx, run, "", 0)
			assert.NoError(t, err)
			ids[i] = got.ID
		})
	}
	wg.Wait()

	txs := rt.Sent("begin")
	require.Less(t, txs, n, "creates made at once share transactions")
	require.Equal(t, txs, rt.Sent(".runs (id, workflow"), "one insert of runs per transaction")
	require.Equal(t, txs, rt.Sent("begin;\ninsert into"), "BEGIN and the runs go together")
	require.LessOrEqual(t, rt.Count(), int64(4*txs), "round trips per transaction")
	for _, id := range ids {
		got, err := r.st.GetRun(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, id, got.ID)
		waitFor(t, 10*time.Second, "the run's job to run", func() bool {
			return jobs(t, r.st, id)["completed"] == 1
		})
	}
}
