package cluster

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// Bounds of the overflow queue (see overflow).
const (
	// overflowPerWorker is Options.MaxOverflow's default per worker: about
	// what a worker executes in maxOverflowWait, so that a replica keeps
	// the backlog of a burst rather than sending it through River (4, as
	// first chosen, sent a third of a closed loop's runs there: its
	// backlog is several hundred runs).
	overflowPerWorker = 64
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
//
// River's worker waits in the same queue (a River job fetched while runs
// wait here, or while every worker is busy, takes its turn behind them),
// so that River's jobs and the runs admitted here count together against
// Options.Workers: without that, River's own slots executed its jobs
// beside the workers, the queue moved only when both were idle, and a
// busy replica kept sending its admissions to River.
type overflow struct {
	queue []queued // FIFO; queue[0] is next
	// runs counts the runs in queue (the rest are River's waiting jobs);
	// reserved counts the admissions being created for the queue, which
	// count against the bound already.
	runs     int
	reserved int
	bytes    int
}

// queued is a run waiting in the overflow queue, or a River job's worker
// waiting for a worker slot (slot set).
type queued struct {
	run  store.Run
	slot *slotWait
	at   time.Time // when it was queued
}

// States of a slotWait, guarded by eager.mu.
const (
	slotWaiting = iota
	slotGranted
	slotAbandoned
)

// slotWait is a River job's worker waiting in the overflow queue for one
// of the replica's Workers slots.
type slotWait struct {
	state   int
	granted chan struct{} // closed when the slot is handed over
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
	if q.runs+q.reserved >= c.opts.MaxOverflow || q.bytes+size(run) > maxOverflowBytes {
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
	return e.overflow.runs + e.overflow.reserved
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
		e.overflow.runs++
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

// startQueued starts the queued runs there are free workers for, and
// hands free workers to the River jobs waiting for one.
func (c *Cluster) startQueued() {
	e := &c.eager
	for {
		e.mu.Lock()
		if len(e.overflow.queue) == 0 || e.stopped || !e.tryBusy(c.opts.Workers) {
			e.mu.Unlock()
			return
		}
		next, run := e.nextLocked()
		if run {
			e.wg.Add(1)
			go c.executeQueued(next)
		}
		e.mu.Unlock()
	}
}

// nextLocked takes the next entry of the overflow queue for the worker
// slot its caller holds: a run to execute on it (true), or none, the slot
// then handed to the River job waiting next or, when nothing waits,
// freed (false). e.mu must be held.
func (e *eager) nextLocked() (queued, bool) {
	next, ok := e.popLocked()
	switch {
	case !ok:
		e.busy.Add(-1)
	case next.slot != nil:
		next.slot.state = slotGranted
		close(next.slot.granted)
	default:
		return next, true
	}
	return queued{}, false
}

// popLocked takes the next run or waiting River job off the overflow
// queue, skipping the River jobs that gave up, and reports false when
// none was left. e.mu must be held.
func (e *eager) popLocked() (queued, bool) {
	q := &e.overflow
	for len(q.queue) > 0 {
		next := q.queue[0]
		q.queue[0] = queued{}
		q.queue = q.queue[1:]
		if len(q.queue) == 0 {
			q.queue = q.queue[:0:0] // let the array go
		}
		if next.slot != nil {
			if next.slot.state == slotAbandoned {
				continue
			}
			return next, true
		}
		q.runs--
		q.bytes -= size(next.run)
		return next, true
	}
	return queued{}, false
}

// executeQueued executes a queued run for one slice on the worker slot it
// was given, then the next queued runs while there are any, and frees the
// slot, or hands it to the next River job waiting in the queue.
func (c *Cluster) executeQueued(next queued) {
	e := &c.eager
	defer e.wg.Done()
	for {
		if time.Since(next.at) > c.overflowWait() {
			// Waited too long: River takes it, from any replica.
			c.handBack(next.run.ID)
		} else {
			ctx, cancel := c.sliceContext(e.ctx, 0)
			final, err := c.opts.ExecuteRun(ctx, next.run)
			c.settle(next.run.ID, final, err, ctx.Err() != nil)
			cancel()
		}
		e.mu.Lock()
		run := false
		if e.stopped {
			e.busy.Add(-1)
		} else {
			next, run = e.nextLocked()
		}
		e.mu.Unlock()
		if !run {
			return
		}
	}
}

// acquireSlot takes one of the replica's Workers slots for a River job,
// at once when one is free and nothing waits in the overflow queue, else
// in the queue's order, and returns how long it waited. The wait is short
// however deep the queue: a queued run that waited longer than
// overflowWait is handed to River instead of executed, which takes a
// round trip. It gives up and reports false when ctx ends, the replica
// stops or half the slice passed (the job then goes back to River, for
// any replica), so that the job's lease still covers its slice. A slot it
// takes is freed with release.
func (c *Cluster) acquireSlot(ctx context.Context) (time.Duration, bool) {
	e := &c.eager
	e.mu.Lock()
	if len(e.overflow.queue) == 0 && e.tryBusy(c.opts.Workers) {
		e.mu.Unlock()
		return 0, true
	}
	if e.stopped {
		e.mu.Unlock()
		return 0, false
	}
	start := time.Now()
	w := &slotWait{granted: make(chan struct{})}
	e.overflow.queue = append(e.overflow.queue, queued{slot: w, at: start})
	e.mu.Unlock()
	// A run already in the queue may have missed a slot freed while it was
	// being queued; this one must not.
	c.startQueued()
	timer := time.NewTimer(c.opts.Slice / 2)
	defer timer.Stop()
	select {
	case <-w.granted:
		return time.Since(start), true
	case <-ctx.Done():
	case <-c.stopping:
	case <-timer.C:
	}
	e.mu.Lock()
	granted := w.state == slotGranted
	w.state = slotAbandoned
	e.mu.Unlock()
	if granted {
		c.release() // handed over as it gave up
	}
	return 0, false
}

// handBack takes run id out of its held batch with a job of its own, due
// at once, for River.
func (c *Cluster) handBack(id string) {
	if v, held := c.eager.held.LoadAndDelete(id); held {
		h := v.(heldRun)
		c.leave(h, id, c.queueRun(id, h.workflow, time.Now()), false)
	}
}

// drainOverflow hands the runs still queued back to River, at once due
// for any replica; Stop calls it once e.stopped is set. The River jobs
// waiting in the queue give up by themselves (acquireSlot).
func (c *Cluster) drainOverflow() {
	e := &c.eager
	e.mu.Lock()
	left := e.overflow.queue
	e.overflow.queue = nil
	for _, q := range left {
		if q.slot == nil {
			e.overflow.runs--
			e.overflow.bytes -= size(q.run)
		}
	}
	e.mu.Unlock()
	for _, q := range left {
		if q.slot == nil {
			c.handBack(q.run.ID)
		}
	}
}
