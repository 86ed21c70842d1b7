package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// runner executes the runs a Server creates. A single host runs them on its
// in-process dispatcher (localRunner); hosts sharing a PostgreSQL store run
// them as River jobs (clusterRunner). Server creates runs, fires cron
// triggers and reloads the project the same way in both.
type runner interface {
	// submit creates a run of wf as c asks and queues it for execution. A
	// run found under its idempotency key (existed) is not queued again.
	// It returns once the run is stored.
	submit(ctx context.Context, wf *config.Workflow, c creation) (run store.Run, existed bool, err error)
	// start starts executing runs, and resumes those a previous host left
	// unfinished. Runs are executed until stop.
	start(ctx context.Context) error
	// stop stops executing: steps in flight finish (their attempts are
	// recorded) within grace, and unfinished runs resume later, here or on
	// another host.
	stop(grace time.Duration)
	// leader reports whether this process fires cron triggers.
	leader() bool
	// resubmit queues a run an operator moved back to queued (a retry or
	// a resolve) for execution.
	resubmit(ctx context.Context, run store.Run) error
}

// creation is a run a trigger asks for: Engine.Create's arguments.
type creation struct {
	engine   *engine.Engine
	workflow string
	trig     engine.Trigger
	idemKey  string
	ttl      time.Duration
}

// create stores the run queued (Engine.Create).
func (c creation) create(ctx context.Context) (store.Run, bool, error) {
	return c.engine.Create(ctx, c.workflow, c.trig, c.idemKey, c.ttl)
}

// localRunner executes runs on the in-process dispatcher: a bounded worker
// pool with bounded admission and each workflow's concurrency limit.
type localRunner struct {
	disp     *dispatcher
	engine   func() *engine.Engine
	store    func() store.Store
	workers  int
	wait     time.Duration
	logger   hclog.Logger
	stopWork context.CancelFunc
}

var _ runner = (*localRunner)(nil)

// submit admits the run (waiting up to the admission wait for room). When
// a worker is free, or goes free within eagerWait, and the run may start
// eagerly (Engine.EagerEligible),
// the worker executes it at once and stores it with its first attempt's
// start (Engine.ExecuteNew); submit returns once that is durable.
// Otherwise it creates the run, applies the on_limit = "skip" policy, and
// queues it.
func (l *localRunner) submit(ctx context.Context, wf *config.Workflow, c creation) (store.Run, bool, error) {
	if err := l.disp.admit(ctx, wf.Name, l.wait); err != nil {
		return store.Run{}, false, err
	}
	var (
		run     store.Run
		existed bool
		err     error
	)
	if c.engine.EagerEligible(wf.Name, c.trig) {
		ea := &eagerAdmission{}
		if ea.fresh, err = c.engine.NewAdmission(ctx, c.workflow, c.trig); err != nil {
			l.disp.release(wf.Name)
			return store.Run{}, false, err
		}
		ea.done = make(chan struct{})
		ea.fresh.IdemKey, ea.fresh.TTL = c.idemKey, c.ttl
		ea.fresh.Admitted = ea.admitted
		if l.disp.handOffWithin(job{id: ea.fresh.Run.ID, workflow: wf.Name, fresh: &ea.fresh}, ea.done, eagerWait) {
			// The worker releases the slot when the run ends, also one
			// that was not created.
			<-ea.done
			return ea.out.run, ea.out.existed, ea.out.err
		}
		// No worker went free: the run made for it is created as
		// Create creates one.
		run, existed, err = c.engine.CreateAdmitted(ctx, ea.fresh)
	} else {
		run, existed, err = c.create(ctx)
	}
	if err != nil || existed {
		l.disp.release(wf.Name)
		return run, existed, err
	}
	if wf.Concurrency.OnLimit == config.OnLimitSkip && l.disp.atLimit(wf.Name, wf.Concurrency.Limit) {
		l.disp.release(wf.Name)
		run, err = l.engine().Skip(ctx, run.ID, fmt.Sprintf("skipped: workflow %s is at its concurrency limit of %d", wf.Name, wf.Concurrency.Limit))
		return run, false, err
	}
	queued := run
	l.disp.enqueue(job{id: run.ID, workflow: wf.Name, run: &queued})
	return run, false, nil
}

// admission is the outcome of an eager run's creation.
type admission struct {
	run     store.Run
	existed bool
	err     error
}

// eagerAdmission is a run handed to a worker at once (Engine.ExecuteNew)
// and the outcome of its creation, which the submitter waits for; the two
// share one allocation.
type eagerAdmission struct {
	fresh engine.Admission
	// done is closed once out is set.
	done chan struct{}
	out  admission
}

// admitted is fresh's Admitted: it records the outcome and wakes the
// submitter. The engine calls it once.
func (ea *eagerAdmission) admitted(run store.Run, existed bool, err error) {
	ea.out = admission{run, existed, err}
	close(ea.done)
}

// start starts the workers and re-queues every run a previous host left
// queued or running.
func (l *localRunner) start(ctx context.Context) error {
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stopWork = stop
	l.disp.start(workCtx, l.workers)
	runs, err := l.store().UnfinishedRuns(ctx)
	if err != nil {
		return fmt.Errorf("list unfinished runs: %w", err)
	}
	if len(runs) == 0 {
		return nil
	}
	l.logger.Info("resuming unfinished runs", "count", len(runs))
	go func() {
		for _, r := range runs {
			if err := l.disp.admit(ctx, r.Workflow, time.Hour); err != nil {
				return
			}
			l.disp.enqueue(job{id: r.ID, workflow: r.Workflow})
		}
	}()
	return nil
}

// stop interrupts the runs between steps and waits up to grace for the
// steps in flight.
func (l *localRunner) stop(grace time.Duration) {
	if l.stopWork != nil {
		l.stopWork()
	}
	done := make(chan struct{})
	go func() { l.disp.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		l.logger.Warn("steps still in flight after the shutdown grace; they resume on the next start")
	}
}

// leader is always true: a single host fires every cron trigger.
func (l *localRunner) leader() bool { return true }
