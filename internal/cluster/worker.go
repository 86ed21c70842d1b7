package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// handOverSnooze is how long a job is snoozed when its run still
// executes on the replica that fetched it: an execution that outlived
// its lease (hung in a call that ignores its context) and whose job
// fell due. Another replica should take the run, but River lets a
// worker choose only when the job is due again, not who fetches it.
// Due soon (River records the snooze within about 50 ms), it goes to
// the first replica to poll after that, most often another one, as
// each polls once a second. A snooze of LimitPoll made the job due
// just before this replica's own next poll, which took it back about
// 19 times in 20: another replica resumed the run 18–61 s after the
// lease. Not zero, so that a replica left alone with such a job
// fetches it at most about 20 times a second.
const handOverSnooze = 50 * time.Millisecond

// runWorker executes runs' jobs.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	c *Cluster
}

// Timeout is the job's lease; see Cluster.lease.
func (w *runWorker) Timeout(job *river.Job[RunArgs]) time.Duration {
	return w.c.lease(job.Args.Workflow)
}

// Work executes one slice of a run. It first claims a slot under the
// workflow's concurrency limit when the run has not started yet, then lets
// the engine run it until it ends, the slice is over or the replica stops.
// An unfinished run goes back to the queue with a snooze, which River does
// not count as an attempt, for as long as the retry waits of its steps
// still have to run; an error (the store unreachable) is retried by River.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	c := w.c
	// The job takes one of the replica's Workers slots, which River's own
	// fetch limit does not share with the runs executed eagerly or queued
	// here: it waits for one behind those queued.
	waited, ok := c.acquireSlot(ctx)
	if !ok {
		return river.JobSnooze(handOverSnooze)
	}
	defer c.release()
	id := job.Args.RunID
	wf, known := c.opts.Project().Workflows[job.Args.Workflow]
	if known && wf.Concurrency.Limit > 0 {
		ok, err := c.opts.Store.StartWithin(ctx, id, c.opts.Owner, wf.Concurrency.Limit)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return river.JobCancel(err)
		case err != nil:
			return err
		case !ok && wf.Concurrency.OnLimit == config.OnLimitSkip:
			_, err := c.opts.Skip(ctx, id, fmt.Sprintf("skipped: workflow %s is at its concurrency limit of %d", wf.Name, wf.Concurrency.Limit))
			return err
		case !ok:
			return river.JobSnooze(LimitPoll)
		}
	}

	execCtx, cancel := c.sliceContext(ctx, waited)
	defer cancel()

	var err error
	if run, ok := c.handed.take(id); ok && c.opts.ExecuteRun != nil && !(known && wf.Concurrency.Limit > 0) {
		// Created here: taken without a read. (A claim under a
		// concurrency limit changed it already.) Its create committed
		// (River fetched its job), so the store's run cache may hold it
		// at its first version; the take's version check refuses the
		// copy if another writer changed the run since.
		c.opts.Store.CacheCreated(run)
		_, err = c.opts.ExecuteRun(execCtx, run)
	} else {
		_, err = c.opts.Execute(execCtx, id)
	}
	switch {
	case err == nil:
		c.waits.forget(id)
		return nil
	case errors.Is(err, store.ErrNotFound):
		c.waits.forget(id)
		return river.JobCancel(err)
	case errors.Is(err, engine.ErrAlreadyExecuting):
		// An earlier slice here (or this replica's eager execution)
		// outlived its lease and the job fell due to this same process:
		// let that slice end first, or another replica take the run.
		return river.JobSnooze(handOverSnooze)
	case errors.Is(err, engine.ErrInterrupted) || execCtx.Err() != nil:
		// The run checkpointed: every attempt it started is recorded.
		wait := c.waits.remaining(id, time.Now())
		c.log.Debug("run checkpointed; queued again", "run_id", id, "not_before", wait)
		return river.JobSnooze(wait)
	default:
		c.log.Warn("run could not be executed; River retries it", "run_id", id, "attempt", job.Attempt, "error", err)
		return err
	}
}

// sliceContext returns the context of one slice of a run: it ends after
// Options.Slice less waited (the time its job waited for a worker, which
// counts against the job's lease), or when the replica stops.
func (c *Cluster) sliceContext(ctx context.Context, waited time.Duration) (context.Context, context.CancelFunc) {
	execCtx, cancel := context.WithTimeout(ctx, c.opts.Slice-waited)
	go func() {
		select {
		case <-c.stopping:
			cancel()
		case <-execCtx.Done():
		}
	}()
	return execCtx, cancel
}
