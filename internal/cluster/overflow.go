package cluster

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// Bounds of the overflow queue (see overflow).
const (
	// overflowPerWorker is Options.MaxOverflow's default per worker.
	overflowPerWorker = 4
	// maxOverflowBytes bounds the triggers and inputs of the queued runs.
	maxOverflowBytes = 8 << 20
	// maxOverflowWait is the longest a run waits in the overflow queue
	// (or Options.Slice when shorter): one that has not started by then
	// is handed to River. Its held job is due that much later than an
	// eager run's, so that River never fetches it while it waits or
	// executes here.
	maxOverflowWait = 10 * time.Second
)

// overflow is the queue of the runs this replica admitted eagerly while
// none of its workers was free (see StartEager): each is created queued,
// its job held back as an eager run's is, in the same one-round-trip batch,
// and waits here, in the order of admission, for the next free worker,
// which executes it with Options.ExecuteRun (taken without a read), so it
// costs no River insert, fetch or completion. Should the replica die, its
// held job falls due when the lease is over and any replica resumes it as
// it resumes an eager run. Its fields are guarded by eager.mu.
type overflow struct {
	queue []queued // FIFO; queue[0] is next
	// reserved counts the admissions being created for the queue, which
	// count against the bound already.
	reserved int
	bytes    int
}

// queued is a run waiting in the overflow queue.
type queued struct {
	run store.Run
	at  time.Time // when it was queued
}

// overflowWait returns how long a run may wait in the overflow queue.
func (c *Cluster) overflowWait() time.Duration { return min(c.opts.Slice, maxOverflowWait) }

// overflowRoomLocked reports whether the overflow queue takes run, and if
// so reserves its place. c.eager.mu must be held.
func (c *Cluster) overflowRoomLocked(run store.Run) bool {
	q := &c.eager.overflow
	if c.opts.MaxOverflow <= 0 || c.opts.ExecuteRun == nil {
		return false
	}
	if len(q.queue)+q.reserved >= c.opts.MaxOverflow || q.bytes+size(run) > maxOverflowBytes {
		return false
	}
	q.reserved++
	q.bytes += size(run)
	return true
}

// Overflowed returns the number of runs waiting in this replica's overflow
// queue, those being created for it included.
func (c *Cluster) Overflowed() int {
	e := &c.eager
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.overflow.queue) + e.overflow.reserved
}

// queueOverflow creates a's run queued with its job held back and, once
// that is durable and told to a.Admitted, queues it for the next free
// worker. Its place was reserved (overflowRoomLocked) and e.wg counts it.
func (c *Cluster) queueOverflow(a engine.Admission) {
	e := &c.eager
	defer e.wg.Done()
	ctx := context.WithValue(e.ctx, eagerKey{}, &eagerRun{lease: c.lease(a.Run.Workflow) + c.overflowWait()})
	run, existed, err := c.store.CreateRun(ctx, a.Run, a.IdemKey, a.TTL)
	queue := err == nil && !existed && !run.Status.Final()
	e.mu.Lock()
	e.overflow.reserved--
	if !queue || e.stopped {
		e.overflow.bytes -= size(a.Run)
	} else {
		e.overflow.queue = append(e.overflow.queue, queued{run: run, at: time.Now()})
	}
	stopped := e.stopped
	e.mu.Unlock()
	if a.Admitted != nil {
		a.Admitted(run, existed, err)
	}
	switch {
	case queue && stopped:
		c.handBack(run.ID)
	case queue:
		c.startQueued()
	}
}

// startQueued starts the queued runs there are free workers for.
func (c *Cluster) startQueued() {
	e := &c.eager
	for {
		e.mu.Lock()
		if len(e.overflow.queue) == 0 || e.stopped || !e.tryBusy(c.opts.Workers) {
			e.mu.Unlock()
			return
		}
		next := e.popLocked()
		e.wg.Add(1)
		e.mu.Unlock()
		go c.executeQueued(next)
	}
}

// popLocked takes the next run off the overflow queue. e.mu must be held.
func (e *eager) popLocked() queued {
	q := &e.overflow
	next := q.queue[0]
	q.queue[0] = queued{}
	q.queue = q.queue[1:]
	if len(q.queue) == 0 {
		q.queue = q.queue[:0:0] // let the array go
	}
	q.bytes -= size(next.run)
	return next
}

// executeQueued executes a queued run for one slice on the worker slot it
// was given, then the next queued runs while there are any, and frees the
// slot.
func (c *Cluster) executeQueued(next queued) {
	e := &c.eager
	defer e.wg.Done()
	for {
		if time.Since(next.at) > c.overflowWait() {
			// Waited too long: River takes it, from any replica.
			c.handBack(next.run.ID)
		} else {
			ctx, cancel := c.sliceContext(e.ctx)
			final, err := c.opts.ExecuteRun(ctx, next.run)
			c.settle(next.run.ID, final, err, ctx.Err() != nil)
			cancel()
		}
		e.mu.Lock()
		if len(e.overflow.queue) == 0 || e.stopped {
			e.busy.Add(-1)
			e.mu.Unlock()
			return
		}
		next = e.popLocked()
		e.mu.Unlock()
	}
}

// handBack makes the held job of run id due at once, for River.
func (c *Cluster) handBack(id string) {
	e := &c.eager
	if job, held := e.held.LoadAndDelete(id); held {
		c.settleHeld(id, job.(int64), e.handBackSQL, job, jobState(time.Now()), time.Now())
	}
}

// drainOverflow hands the runs still queued back to River, at once due
// for any replica; Stop calls it once e.stopped is set.
func (c *Cluster) drainOverflow() {
	e := &c.eager
	e.mu.Lock()
	left := e.overflow.queue
	e.overflow.queue = nil
	for _, q := range left {
		e.overflow.bytes -= size(q.run)
	}
	e.mu.Unlock()
	for _, q := range left {
		c.handBack(q.run.ID)
	}
}
