package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/store"
)

// batchJobs counts the held batch jobs in r's schema by state.
func batchJobs(t *testing.T, r *replica) map[string]int {
	t.Helper()
	return jobStates(t, r, `kind = $1`, cluster.BatchJobKind)
}

// ownJobs counts the jobs of run id's own (not its batch's) by state.
func ownJobs(t *testing.T, r *replica, id string) map[string]int {
	t.Helper()
	return jobStates(t, r, `kind = $1 AND args->>'run_id' = $2`, cluster.JobKind, id)
}

// jobStates counts the River jobs in r's schema that match where (with
// args) by state.
func jobStates(t *testing.T, r *replica, where string, args ...any) map[string]int {
	t.Helper()
	rows, err := r.st.Pool().Query(context.Background(), `SELECT state::text, count(*) FROM `+
		pgx.Identifier{r.st.Schema(), "river_job"}.Sanitize()+` WHERE `+where+` GROUP BY state`, args...)
	require.NoError(t, err)
	out := map[string]int{}
	var (
		state string
		n     int
	)
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error { out[state] = n; return nil })
	require.NoError(t, err)
	return out
}

// TestHeldBatchSharedByConcurrentCreates: eager runs admitted at once share
// held jobs (fewer jobs than runs), each run named by one held back while
// it executes, and once the runs all ended no held job is left: the last
// run's end, or a statement of its own, deleted each batch's job.
func TestHeldBatchSharedByConcurrentCreates(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	b.workers = 32
	a := b.startEngine("a", time.Minute)
	release := plugin.hold(t)
	const n = 16
	runs := make([]store.Run, n)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			run, err := a.admitRun(t, a.newRun(t))
			require.NoError(t, err)
			runs[i] = run
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "every call", func() bool { return plugin.calls.Load() == n })
	for _, run := range runs {
		require.Equal(t, map[string]int{"scheduled": 1}, jobs(t, a.st, run.ID), "run %s held back by one job", run.ID)
	}
	held := batchJobs(t, a)["scheduled"]
	t.Logf("%d runs admitted at once: %d held jobs", n, held)
	require.Less(t, held, n, "runs created together share a held job")
	require.Zero(t, batchJobs(t, a)["available"])

	release()
	for _, run := range runs {
		a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	}
	waitFor(t, 10*time.Second, "no held job left", func() bool { return len(batchJobs(t, a)) == 0 })
	require.Zero(t, a.calls.Load(), "River executed none")
	require.EqualValues(t, n, plugin.calls.Load())
}

// TestHeldBatchDueQueuesOnlyItsOrphans: a held batch's job that falls due
// queues a job of its own for each of its runs still unfinished with no
// live job, and for no other: not for a run that ended, nor for one that
// has a job of its own (with a Wake, which River's uniqueness would not
// catch), and River executes the queued one.
func TestHeldBatchDueQueuesOnlyItsOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.start("a", time.Minute)
	ctx := context.Background()
	create := func() store.Run {
		run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
		stored, _, err := a.st.CreateRun(ctx, run, "", 0) // the store's: no job
		require.NoError(t, err)
		return stored
	}
	ended, orphan, withJob := create(), create(), create()
	_, err := finish(ctx, a.st, ended.ID, store.StatusSucceeded)
	require.NoError(t, err)
	_, err = a.c.Client().Insert(ctx, cluster.RunArgs{RunID: withJob.ID, Workflow: "w", Wake: "requeued/x"},
		&river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	_, err = a.c.Client().Insert(ctx, cluster.BatchArgs{RunIDs: []string{ended.ID, orphan.ID, withJob.ID}}, nil)
	require.NoError(t, err)
	a.status(t, orphan.ID, store.StatusSucceeded, 10*time.Second)
	waitFor(t, 10*time.Second, "the batch's job completed", func() bool { return batchJobs(t, a)["completed"] == 1 })
	require.Empty(t, ownJobs(t, a, ended.ID), "nothing queued for the run that ended")
	require.Equal(t, map[string]int{"scheduled": 1}, ownJobs(t, a, withJob.ID), "its own job only")
	require.EqualValues(t, 1, a.calls.Load(), "River executed the orphan alone")
}

// TestGuardSharedAcrossCreates: eager runs admitted one after the other, in
// create transactions of their own, while the first still executes, store
// the same guard: one held job for them all, inserted by the first create
// (a job per create transaction before), and gone once they all ended.
func TestGuardSharedAcrossCreates(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	a := b.startEngine("a", time.Minute)
	release := plugin.hold(t)
	var runs []store.Run
	for i := range 3 {
		runs = append(runs, a.admit(t, "w"))
		waitFor(t, 10*time.Second, "the call", func() bool { return plugin.calls.Load() == int64(i+1) })
	}
	require.Equal(t, map[string]int{"scheduled": 1}, batchJobs(t, a), "one held job for the three")
	for _, run := range runs {
		require.Equal(t, map[string]int{"scheduled": 1}, jobs(t, a.st, run.ID))
	}
	release()
	for _, run := range runs {
		a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	}
	waitFor(t, 10*time.Second, "no held job left", func() bool { return len(batchJobs(t, a)) == 0 })
}
