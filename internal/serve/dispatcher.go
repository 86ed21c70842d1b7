package serve

import (
	"context"
	"errors"
	"fmt"
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

// dispatcher executes runs on a bounded number of goroutines. Admission is
// bounded too: at most queueSize runs are admitted but not finished, so
// triggers arriving faster than providers accept wait (and are eventually
// refused with ErrBusy) instead of growing memory without bound. Each
// workflow's concurrency limit is applied here: runs beyond it wait in the
// workflow's own queue.
//
// A worker goroutine is started when a run is handed over and fewer than
// workers are executing; it takes the runs queued meanwhile and ends when
// none is left. An idle host holds no worker goroutines, and a busy one
// holds as many as it executes at once: a goroutine that executed a run
// has a stack grown to the run's deepest call, which an idle pool would
// keep resident (64 idle workers held ~1.2 MiB of stacks under the bench's
// closed loop of 32 clients). Nor is the queue's room allocated up front.
type dispatcher struct {
	engine  *engine.Engine
	project func() *config.Project
	logger  hclog.Logger

	slots chan struct{}

	mu       sync.Mutex
	ctx      context.Context  // set by start; nil before
	stopped  bool             // set by wait: no worker starts after it
	workers  int              // the most worker goroutines at once
	running  int              // worker goroutines started and not ended
	ready    []job            // runs handed over, waiting for a worker
	active   map[string]int   // runs executing, by workflow
	admitted map[string]int   // runs admitted and not finished, by workflow
	waiting  map[string][]job // runs held back by the workflow's limit

	wg sync.WaitGroup
}

func newDispatcher(e *engine.Engine, project func() *config.Project, logger hclog.Logger, queueSize int) *dispatcher {
	return &dispatcher{
		engine:  e,
		project: project,
		logger:  logger,
		// Its elements take no room: only the channel is allocated.
		slots:    make(chan struct{}, queueSize),
		active:   map[string]int{},
		admitted: map[string]int{},
		waiting:  map[string][]job{},
	}
}

// start lets up to workers runs execute at once until ctx ends, starting
// on the runs queued so far; wait returns when the workers have stopped.
func (d *dispatcher) start(ctx context.Context, workers int) {
	d.mu.Lock()
	d.ctx, d.workers = ctx, workers
	for len(d.ready) > 0 && d.canSpawnLocked() {
		j := d.ready[0]
		d.ready[0] = job{}
		d.ready = d.ready[1:]
		d.spawnLocked(j)
	}
	d.mu.Unlock()
}

// spawnLocked starts a worker goroutine on j; d.mu is held, d.ctx is set
// and live, and d.running < d.workers.
func (d *dispatcher) spawnLocked(j job) {
	d.running++
	d.wg.Add(1)
	go d.work(j)
}

// canSpawnLocked reports whether a worker may start now; d.mu is held.
func (d *dispatcher) canSpawnLocked() bool {
	return d.ctx != nil && d.ctx.Err() == nil && !d.stopped && d.running < d.workers
}

// work executes j, then the runs queued, and ends when none is left or
// the dispatcher's context has ended.
func (d *dispatcher) work(j job) {
	defer d.wg.Done()
	for {
		d.run(d.ctx, j)
		d.mu.Lock()
		if len(d.ready) == 0 || d.ctx.Err() != nil {
			d.running--
			d.mu.Unlock()
			return
		}
		j = d.ready[0]
		d.ready[0] = job{}
		d.ready = d.ready[1:]
		if len(d.ready) == 0 {
			d.ready = nil // let a burst's backing array go
		}
		d.mu.Unlock()
	}
}

// free reports whether a handed-over run would start at once.
func (d *dispatcher) free() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.canSpawnLocked()
}

// wait returns when the workers have stopped; call it once ctx has ended.
// No worker starts after it is called.
func (d *dispatcher) wait() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.wg.Wait()
}

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

// handOff starts an admitted run on a new worker if fewer than the
// dispatcher's workers are executing, and reports whether it did; it never
// waits.
func (d *dispatcher) handOff(j job) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.canSpawnLocked() {
		return false
	}
	d.spawnLocked(j)
	return true
}

// enqueue hands an admitted run to the workers: a new one if fewer than
// workers are executing, else the first to finish its run. It never
// blocks.
func (d *dispatcher) enqueue(j job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.canSpawnLocked() {
		d.spawnLocked(j)
		return
	}
	d.ready = append(d.ready, j)
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
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.active {
		active += n
	}
	for _, q := range d.waiting {
		waiting += len(q)
	}
	return active, waiting + len(d.ready)
}
