package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// eager is the state of the runs this replica executes at once, the
// replica that admitted them (Cluster.StartEager), instead of through
// River. Such a run is guarded by a job inserted with it, in the same
// transaction, but held back: scheduled at the end of the run's lease, so
// River does not fetch it while this replica works, and shared by the
// runs created in the same transaction (see heldBatch). The job is
// deleted once each of its runs ended or parked, most often by the
// transaction that ends the last of them (see pgstore.SetRunEndHook); a
// slice that does not end its run queues a job of the run's own, due when
// the run may go on. Should this replica die, the held job falls due when
// its lease is over and any replica's worker queues its unfinished runs,
// which River resumes from what is stored, an attempt in doubt as after
// any attempt start.
type eager struct {
	// busy counts the worker slots taken: the runs this replica executes,
	// River's, eager and queued ones. None starts while it is at
	// Options.Workers (see acquireSlot and tryBusy).
	busy atomic.Int64
	// held maps the ID of a run executed eagerly to its heldRun, once the
	// run's creation committed, until it settles.
	held sync.Map
	// mu guards stopped, overflow and the Add of wg against Stop's Wait.
	mu       sync.Mutex
	stopped  bool
	overflow overflow
	wg       sync.WaitGroup
	// ctx is the context of eager executions; cancel ends it when the
	// shutdown grace is over.
	ctx    context.Context
	cancel context.CancelFunc
	// deleteSQL deletes a held job not fetched by River; orphansSQL and
	// batchedSQL are batchWorker's and Adopt's reads (see heldjob.go).
	deleteSQL, orphansSQL, batchedSQL string
}

// initEager prepares c's eager executions and hooks the deletion of a held
// job into the transaction that ends its run.
func (c *Cluster) initEager() {
	e := &c.eager
	e.ctx, e.cancel = context.WithCancel(context.Background())
	schema := c.opts.Store.Schema()
	table := pgx.Identifier{schema, "river_job"}.Sanitize()
	// A job River fetched after all (running) is left to River: its
	// execution finds the run ended, or waits for this one.
	e.deleteSQL = `DELETE FROM ` + table + ` WHERE id = $1 AND state IN ('available', 'scheduled', 'retryable')`
	e.orphansSQL, e.batchedSQL = orphansSQL(schema), batchedRunsSQL(schema)
	c.opts.Store.SetRunEndHook(func(runID string) (string, []any) {
		if h, ok := e.held.Load(runID); ok {
			if job, ok := h.(heldRun).batch.claimEnd(runID); ok {
				return e.deleteSQL, []any{job}
			}
		}
		return "", nil
	})
}

// eagerRun marks the context of an eager execution, for the cluster
// store's creates: the run's job is held back for lease.
type eagerRun struct {
	lease time.Duration
}

// eagerKey is the context key of an eagerRun.
type eagerKey struct{}

// eagerFrom returns the eagerRun ctx carries, or nil.
func eagerFrom(ctx context.Context) *eagerRun {
	e, _ := ctx.Value(eagerKey{}).(*eagerRun)
	return e
}

// errNotEager refuses a CreateStartAttemptRun outside an eager execution,
// which would store a run executing here with no job to resume it.
var errNotEager = errors.New("cluster: a run is created started only by an eager execution (Cluster.StartEager)")

// attemptStart is the first attempt an eager create starts.
type attemptStart struct {
	key   store.StepKey
	start store.AttemptStart
}

// tryBusy takes one of the replica's Workers slots if one is free.
func (e *eager) tryBusy(workers int) bool {
	for {
		n := e.busy.Load()
		if n >= int64(workers) {
			return false
		}
		if e.busy.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// StartEager executes the run a admits at once on this replica, when
// Options.ExecuteNew is set, the replica has a free worker (its River jobs
// and eager runs count alike), no run waits in its overflow queue and it
// is not stopping, and reports whether it does; a.Admitted then learns the
// run's creation outcome. When no worker is free (or runs wait already)
// and the overflow queue has room, it creates the run queued, its job
// held back, queues it for the next free worker (see overflow), returns
// once a.Admitted learned the creation's outcome and reports true too.
// Otherwise the caller creates the run for River. The run must be eligible
// (engine.EagerEligible): no concurrency limit, no shared rate limit, as
// those are claimed by River's path.
//
// The run executes for one slice, as a River job does, with its job
// inserted held back in the transaction that creates it (with its first
// attempt's start) and deleted in the one that ends it; see eager.
func (c *Cluster) StartEager(a engine.Admission) bool {
	e := &c.eager
	if c.opts.ExecuteNew == nil || !c.started.Load() {
		return false
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return false
	}
	// Runs queued before it go first (those still being created were not
	// answered yet, so no order holds between them and this one).
	if len(e.overflow.queue) == 0 && e.tryBusy(c.opts.Workers) {
		e.wg.Add(1)
		e.mu.Unlock()
		go c.executeEager(a)
		return true
	}
	if !c.overflowRoomLocked(a.Run) {
		e.mu.Unlock()
		return false
	}
	e.wg.Add(1)
	e.mu.Unlock()
	c.queueOverflow(a)
	return true
}

// executeEager executes a's run for one slice (see StartEager) and hands
// its job back to River unless the run ended or parked.
func (c *Cluster) executeEager(a engine.Admission) {
	e := &c.eager
	defer e.wg.Done()
	defer c.release()
	ctx := context.WithValue(e.ctx, eagerKey{}, &eagerRun{lease: c.lease(a.Run.Workflow)})
	execCtx, cancel := c.sliceContext(ctx, 0)
	defer cancel()
	final, err := c.opts.ExecuteNew(execCtx, a)
	c.settle(a.Run.ID, final, err, execCtx.Err() != nil)
}

// settle takes run id, executed here for one slice that ended in final
// and err (sliceOver when its context ended), out of its held batch: it
// needs no job once it ended or parked; otherwise a job of its own queues
// it again, due when it may go on.
func (c *Cluster) settle(id string, final store.Run, err error, sliceOver bool) {
	e := &c.eager
	v, held := e.held.LoadAndDelete(id)
	if !held {
		return // not created here: nothing was stored, or its key named another run
	}
	h := v.(heldRun)
	switch {
	case err == nil && final.Status.Final():
		// Its batch's job may have been deleted with the run's end.
		c.waits.forget(id)
		c.leave(h, id, true, true)
	case err == nil || errors.Is(err, store.ErrNotFound):
		// Parked (what ends its wait queues a job of its own), or gone.
		c.waits.forget(id)
		c.leave(h, id, true, false)
	case errors.Is(err, engine.ErrInterrupted) || sliceOver:
		// Checkpointed: every attempt it started is recorded.
		due := time.Now().Add(c.waits.remaining(id, time.Now()))
		c.log.Debug("run checkpointed; queued again", "run_id", id, "not_before", due)
		c.leave(h, id, c.queueRun(id, h.workflow, due), false)
	default:
		c.log.Warn("run could not be executed; River retries it", "run_id", id, "error", err)
		c.leave(h, id, c.queueRun(id, h.workflow, time.Now().Add(time.Second)), false)
	}
}

// leave takes run id out of its held batch h (see heldBatch.settle) and
// deletes the batch's job when that was the last run needing it.
func (c *Cluster) leave(h heldRun, id string, guarded, ended bool) {
	if h.batch.settle(id, guarded, ended) {
		c.deleteHeld(h.batch)
	}
}

// deleteHeld deletes held batch b's job, which no run needs any more.
func (c *Cluster) deleteHeld(b *heldBatch) {
	b.mu.Lock()
	job := b.job
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.opts.Store.GroupExec(ctx, c.eager.deleteSQL, job); err != nil {
		c.log.Warn("could not delete a held job whose runs all ended; it falls due when its lease is over and finds nothing to do",
			"job_id", job, "error", err)
	}
}

// queueRun queues a job of run id's own, of workflow, due at due, and
// reports whether the run has one now (a live job of its own was there
// already). When it fails the run stays guarded by its held batch's job,
// and River resumes it when that job's lease is over.
func (c *Cluster) queueRun(id, workflow string, due time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.client.Insert(ctx, RunArgs{RunID: id, Workflow: workflow}, &river.InsertOpts{ScheduledAt: due}); err != nil {
		c.log.Warn("could not queue a run's job; River resumes the run when its held job's lease is over",
			"run_id", id, "error", err)
		return false
	}
	return true
}

// release frees one of the replica's Workers slots and starts the queued
// runs it frees (see overflow).
func (c *Cluster) release() {
	c.eager.busy.Add(-1)
	c.startQueued()
}

// stopEager refuses new eager executions and waits for those running,
// which checkpoint as Stop closed c.stopping, until ctx ends; it then
// cancels them and waits up to five seconds more.
func (c *Cluster) stopEager(ctx context.Context) {
	e := &c.eager
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	c.drainOverflow()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	e.cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.log.Warn("eager runs still executing after cancellation; River resumes them when their lease is over")
	}
}
