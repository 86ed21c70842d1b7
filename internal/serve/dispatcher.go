package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
)

// ErrBusy is returned when the dispatcher's queue stayed full for the whole
// admission wait: the caller should try again later (the HTTP API answers
// 503 with Retry-After).
var ErrBusy = fmt.Errorf("%w: too many runs queued; try again later", httpapi.ErrUnavailable)

// job is a run waiting for a worker.
type job struct {
	id, workflow string
	// run, when set, is the run as its creator stored it, so the worker
	// need not read it (Engine.ExecuteRun).
	run *store.Run
	// fresh, when set, is a run not stored yet, executed at once
	// (Engine.ExecuteNew); it bypasses the workflow's queue.
	fresh *engine.Admission
}

// dispatcher executes runs on a bounded pool of workers. Admission is
// bounded too: at most queueSize runs are admitted but not finished, so
// triggers arriving faster than providers accept wait (and are eventually
// refused with ErrBusy) instead of growing memory without bound. Each
// workflow's concurrency limit is applied here: runs beyond it wait in the
// workflow's own queue.
//
// A run is handed to the worker that went idle last, so under a light load
// the same few workers execute every run: their goroutine stacks stay grown,
// while the GC shrinks those of the workers left waiting, and they are not
// grown again.
type dispatcher struct {
	engine  *engine.Engine
	project func() *config.Project
	logger  hclog.Logger

	slots chan struct{}

	// pool guards ready and idle: a run is queued in ready only while no
	// worker waits in idle, and a worker waits in idle only while ready is
	// empty, so no run is left queued with a worker free.
	pool sync.Mutex
	// ready holds the runs admitted and waiting for a worker, oldest first.
	ready []job
	// idle holds the workers waiting for work; the last one went idle last.
	idle []*worker
	// freshQueued counts the fresh runs in ready (handOffWithin): runs not
	// stored yet whose submitters wait for a worker.
	freshQueued int

	mu       sync.Mutex
	active   map[string]int   // runs executing, by workflow
	admitted map[string]int   // runs admitted and not finished, by workflow
	waiting  map[string][]job // runs held back by the workflow's limit

	wg sync.WaitGroup
}

// worker is a dispatcher worker waiting for work: the dispatcher takes it
// off its idle stack and puts one job in next.
type worker struct {
	next chan job
}

func newDispatcher(e *engine.Engine, project func() *config.Project, logger hclog.Logger, queueSize int) *dispatcher {
	return &dispatcher{
		engine:   e,
		project:  project,
		logger:   logger,
		slots:    make(chan struct{}, queueSize),
		active:   map[string]int{},
		admitted: map[string]int{},
		waiting:  map[string][]job{},
	}
}

// start runs workers until ctx ends; wait returns when they have stopped.
func (d *dispatcher) start(ctx context.Context, workers int) {
	d.wg.Add(workers)
	for range workers {
		go d.work(ctx)
	}
}

// work executes jobs until ctx ends: the oldest queued one, or, when none
// is queued, the next one handed to it while it waits on the idle stack.
func (d *dispatcher) work(ctx context.Context) {
	defer d.wg.Done()
	w := &worker{next: make(chan job, 1)}
	for ctx.Err() == nil {
		j, ok := d.take(w)
		if !ok {
			select {
			case j = <-w.next:
			case <-ctx.Done():
				if j, ok = d.leave(w); !ok {
					return
				}
			}
		}
		d.run(ctx, j)
	}
}

// take returns the oldest queued job, or, when none is queued, puts w on
// the idle stack and reports false.
func (d *dispatcher) take(w *worker) (job, bool) {
	d.pool.Lock()
	defer d.pool.Unlock()
	if len(d.ready) == 0 {
		d.idle = append(d.idle, w)
		return job{}, false
	}
	j := d.ready[0]
	d.ready[0] = job{}
	d.ready = d.ready[1:]
	if len(d.ready) == 0 {
		d.ready = nil
	}
	if j.fresh != nil {
		d.freshQueued--
	}
	return j, true
}

// leave takes w off the idle stack once its context has ended. A job
// handed to w before that is returned, so that its worker executes it
// (and an eager run's submitter is answered).
func (d *dispatcher) leave(w *worker) (job, bool) {
	d.pool.Lock()
	for i, x := range d.idle {
		if x == w {
			d.idle = append(d.idle[:i], d.idle[i+1:]...)
			d.pool.Unlock()
			return job{}, false
		}
	}
	d.pool.Unlock()
	// The dispatcher took w off the stack and handed it a job in the same
	// critical section: it is in next.
	return <-w.next, true
}

// giveLocked hands j to the worker that went idle last, and reports whether
// one was idle; it never waits. d.pool is held.
func (d *dispatcher) giveLocked(j job) bool {
	n := len(d.idle)
	if n == 0 {
		return false
	}
	w := d.idle[n-1]
	d.idle[n-1] = nil
	d.idle = d.idle[:n-1]
	w.next <- j // a worker on the stack has an empty next
	return true
}

// idleWorkers returns how many workers wait for work.
func (d *dispatcher) idleWorkers() int {
	d.pool.Lock()
	defer d.pool.Unlock()
	return len(d.idle)
}

func (d *dispatcher) wait() { d.wg.Wait() }

// admit reserves a queue slot, waiting at most wait for one.
func (d *dispatcher) admit(ctx context.Context, workflow string, wait time.Duration) error {
	select {
	case d.slots <- struct{}{}:
		// A free slot, the usual case: no timer is made.
	default:
		if err := d.waitSlot(ctx, wait); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.admitted[workflow]++
	d.mu.Unlock()
	return nil
}

// waitSlot reserves a queue slot when none was free, waiting at most wait.
func (d *dispatcher) waitSlot(ctx context.Context, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case d.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot reserved by admit.
func (d *dispatcher) release(workflow string) {
	d.mu.Lock()
	d.admitted[workflow]--
	d.mu.Unlock()
	<-d.slots
}

// atLimit reports whether workflow already has as many runs admitted as its
// concurrency limit allows, counting the one being admitted.
func (d *dispatcher) atLimit(workflow string, limit int) bool {
	if limit <= 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.admitted[workflow] > limit
}

// eagerWait is how long a fresh run waits for a worker to go idle when
// none is (handOffWithin). Under a closed loop every worker can be busy for
// a moment, most of them with runs that only wait for their finish commit,
// which frees them within a group commit or two (1–2 ms; session 11 counted
// 5.9% of webhooks finding no idle worker). A run that waits it out is
// created queued, as one that finds no worker at all: a commit more on its
// path, which the wait would have saved.
const eagerWait = 5 * time.Millisecond

// handOffWithin gives j, a fresh run whose submitter waits on done (closed
// once the run's creation is settled), to the worker that went idle last.
// When none is idle and the queue holds no run already created, j is queued
// for the first worker to go idle within wait. It reports whether a worker
// took j, so that done will be closed; false means no worker did and j is
// withdrawn from the queue: the caller creates the run queued instead.
func (d *dispatcher) handOffWithin(j job, done <-chan struct{}, wait time.Duration) bool {
	d.pool.Lock()
	if d.giveLocked(j) {
		d.pool.Unlock()
		return true
	}
	// Behind runs already created the wait would be longer, and they
	// would go first anyway.
	if wait <= 0 || len(d.ready) > d.freshQueued {
		d.pool.Unlock()
		return false
	}
	d.ready = append(d.ready, j)
	d.freshQueued++
	d.pool.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	}
	return !d.withdraw(j)
}

// withdraw takes the fresh run j off the queue and reports whether it was
// still there: false means a worker took it.
func (d *dispatcher) withdraw(j job) bool {
	d.pool.Lock()
	defer d.pool.Unlock()
	for i, x := range d.ready {
		if x.fresh == j.fresh {
			d.ready = slices.Delete(d.ready, i, i+1)
			d.freshQueued--
			return true
		}
	}
	return false
}

// enqueue hands an admitted run to a free worker, or queues it for the
// next one; it never waits.
func (d *dispatcher) enqueue(j job) {
	d.pool.Lock()
	defer d.pool.Unlock()
	if !d.giveLocked(j) {
		d.ready = append(d.ready, j)
	}
}

func (d *dispatcher) limit(workflow string) int {
	if wf, ok := d.project().Workflows[workflow]; ok {
		return wf.Concurrency.Limit
	}
	return 0
}

// run executes one job under its workflow's limit.
func (d *dispatcher) run(ctx context.Context, j job) {
	limit := d.limit(j.workflow)
	d.mu.Lock()
	// A fresh run was admitted without a limit (engine.EagerEligible); a
	// reload that set one since applies to the runs after it.
	if limit > 0 && d.active[j.workflow] >= limit && j.fresh == nil {
		d.waiting[j.workflow] = append(d.waiting[j.workflow], j)
		d.mu.Unlock()
		return
	}
	d.active[j.workflow]++
	d.mu.Unlock()

	var err error
	switch {
	case j.fresh != nil:
		_, err = d.engine.ExecuteNew(ctx, *j.fresh)
	case j.run != nil:
		_, err = d.engine.ExecuteRun(ctx, *j.run)
	default:
		_, err = d.engine.Execute(ctx, j.id)
	}
	interrupted := errors.Is(err, engine.ErrInterrupted) || ctx.Err() != nil
	// A run that was not created was answered to its trigger.
	quiet := errors.Is(err, engine.ErrAlreadyExecuting) || errors.Is(err, engine.ErrNotCreated)
	if err != nil && !interrupted && !quiet {
		d.logger.Error("run could not be executed", "run_id", j.id, "workflow", j.workflow, "error", err)
	}

	d.mu.Lock()
	d.active[j.workflow]--
	var next *job
	if q := d.waiting[j.workflow]; len(q) > 0 && ctx.Err() == nil {
		next = &q[0]
		d.waiting[j.workflow] = q[1:]
	}
	d.mu.Unlock()
	if next != nil {
		d.enqueue(*next)
	}
	d.release(j.workflow)
}

// stats returns the runs executing and waiting, for readiness and tests.
func (d *dispatcher) stats() (active, waiting int) {
	d.pool.Lock()
	waiting = len(d.ready)
	d.pool.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.active {
		active += n
	}
	for _, q := range d.waiting {
		waiting += len(q)
	}
	return active, waiting
}
