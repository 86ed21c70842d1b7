package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// TimeoutJobKind is the River kind of a wait's timeout job.
const TimeoutJobKind = "herald_wait_timeout"

// TimeoutArgs are the arguments of the River job that ends a wait at its
// deadline, scheduled when a run parks. Whichever replica takes the job
// ends the wait, also when the replica that parked the run is gone; the
// store's conditional ResolveWait makes it count once beside the parking
// replica's own timer.
type TimeoutArgs struct {
	RunID  string `json:"run_id" river:"unique"`
	StepID string `json:"step_id" river:"unique"`
	Item   int    `json:"item" river:"unique"`
}

// Kind implements river.JobArgs.
func (TimeoutArgs) Kind() string { return TimeoutJobKind }

// InsertOpts implements river.JobArgsWithInsertOpts: one job per wait.
func (TimeoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates}}
}

// ScheduleTimeout queues the job that ends w at its deadline.
func (c *Cluster) ScheduleTimeout(ctx context.Context, w store.Wait) error {
	_, err := c.client.Insert(ctx, TimeoutArgs{RunID: w.RunID, StepID: w.StepID, Item: w.Item}, &river.InsertOpts{ScheduledAt: w.Deadline})
	if err != nil {
		return fmt.Errorf("schedule the timeout of run %s step %s: %w", w.RunID, w.StepID, err)
	}
	return nil
}

// timeoutWorker ends a wait whose deadline came and queues its run.
type timeoutWorker struct {
	river.WorkerDefaults[TimeoutArgs]
	c *Cluster
}

// Timeout bounds one timeout job.
func (w *timeoutWorker) Timeout(*river.Job[TimeoutArgs]) time.Duration { return 30 * time.Second }

// Work implements river.Worker.
func (w *timeoutWorker) Work(ctx context.Context, job *river.Job[TimeoutArgs]) error {
	c := w.c
	if c.opts.ResolveTimeout == nil {
		return river.JobCancel(errors.New("cluster: no ResolveTimeout"))
	}
	a := job.Args
	requeued, err := c.opts.ResolveTimeout(ctx, engine.WaitKey{RunID: a.RunID, StepID: a.StepID, Item: a.Item})
	if err != nil || !requeued {
		return err
	}
	run, err := c.opts.Store.GetRun(ctx, a.RunID)
	if err != nil {
		return err
	}
	return c.Wake(ctx, run, engine.WaitKey{RunID: a.RunID, StepID: a.StepID, Item: a.Item})
}

// Wake queues the job that continues a run whose wait key ended; any
// replica takes it.
func (c *Cluster) Wake(ctx context.Context, run store.Run, key engine.WaitKey) error {
	wake := fmt.Sprintf("%s/%s/%d", key.RunID, key.StepID, key.Item)
	if _, err := c.client.Insert(ctx, RunArgs{RunID: run.ID, Workflow: run.Workflow, Wake: wake}, nil); err != nil {
		return fmt.Errorf("queue run %s after its wait: %w", run.ID, err)
	}
	return nil
}

// Resubmit queues a job for a run an operator moved back to queued (a
// retry, or a resolved in-doubt send); any replica takes it. The job that
// left the run failed or needing attention may still be live in River
// (its completion is recorded asynchronously), so the new job has a Wake
// of its own, naming when it was queued, and is not swallowed as that
// job's duplicate.
func (c *Cluster) Resubmit(ctx context.Context, run store.Run) error {
	wake := fmt.Sprintf("requeued/%s@%d", run.ID, time.Now().UnixNano())
	if _, err := c.client.Insert(ctx, RunArgs{RunID: run.ID, Workflow: run.Workflow, Wake: wake}, nil); err != nil {
		return fmt.Errorf("queue run %s again: %w", run.ID, err)
	}
	return nil
}
