package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store"
)

// finalStep is the success of a run's last step, held back so its result
// commits with the run's end in one transaction (see execution.finish).
type finalStep struct {
	step    *config.Step
	key     store.StepKey
	attempt int
	result  store.AttemptResult
	res     stepResult
	started time.Time
}

// startAttempt records the start of an attempt; when the run's take is
// still deferred, it is made in the same transaction (see Engine.execute),
// and so is the run's creation when that is deferred too (ExecuteNew).
func (x *execution) startAttempt(ctx context.Context, key store.StepKey, start store.AttemptStart) error {
	x.mu.Lock()
	take, create := x.take, x.create
	x.take, x.create = nil, nil
	x.mu.Unlock()
	if create != nil {
		taken, err := x.createStarting(ctx, create, key, start)
		if err != nil || taken {
			return err
		}
	}
	if take == nil {
		return x.e.opts.Store.StartAttempt(ctx, key, start)
	}
	if c, ok := x.e.opts.Store.(store.RunCommitter); ok {
		_, err := c.StartAttemptRun(ctx, key, start, take)
		return x.announced(err)
	}
	if _, err := x.e.opts.Store.UpdateRun(ctx, key.RunID, take); err != nil {
		return x.announced(err)
	}
	x.announced(nil)
	return x.e.opts.Store.StartAttempt(ctx, key, start)
}

// flush makes the writes the execution deferred, one by one: the run's
// creation, its take and the last step's result. A path that ends the run
// other than through finish, or writes anything else, calls it first.
func (x *execution) flush(ctx context.Context) error {
	x.mu.Lock()
	take, final, create := x.take, x.final, x.create
	x.take, x.final, x.create = nil, nil, nil
	x.mu.Unlock()
	if create != nil {
		if err := x.e.createQueued(ctx, create, x.held); err != nil {
			return err
		}
	}
	if take != nil {
		if _, err := x.e.opts.Store.UpdateRun(context.WithoutCancel(ctx), x.run.ID, take); err != nil {
			return x.announced(err)
		}
		x.announced(nil)
	}
	if final == nil {
		return nil
	}
	if err := x.recordResult(ctx, final); err != nil {
		return err
	}
	x.finished(final.step, final.key.Item, final.res, final.started)
	return nil
}

// recordResult writes a held-back step result and indexes its message.
func (x *execution) recordResult(ctx context.Context, f *finalStep) error {
	if err := x.e.opts.Store.FinishAttempt(context.WithoutCancel(ctx), f.key, f.attempt, f.result); err != nil {
		return fmt.Errorf("record result of step %s: %w", f.step.ID, err)
	}
	x.written.finished(f.key, f.attempt, f.result)
	x.indexDelivery(ctx, f.key, f.res.Provider, f.res.Action, f.res.Raw)
	return nil
}

// finish ends the run, writing what the execution deferred in the same
// transaction when the store can (store.RunCommitter): the run's take, for
// a run that made no call, or the last step's result with its delivery
// index row, so a one-step run's result and end are one commit. The step's
// events follow that commit, before the run's.
func (x *execution) finish(ctx context.Context, status store.Status, msg, reason string) (store.Run, error) {
	x.mu.Lock()
	take, final, create := x.take, x.final, x.create
	x.take, x.final, x.create = nil, nil, nil
	x.mu.Unlock()
	if create != nil {
		// A run that ends without a call (skipped by when, say) is
		// created as Create creates it, then taken and ended in one write.
		if err := x.e.createQueued(ctx, create, x.held); err != nil {
			return x.run, err
		}
	}
	return x.e.finishWith(ctx, x.st, x.run, status, msg, reason, x.written, func(ctx context.Context, update func(*store.Run) error) (store.Run, error) {
		if take != nil {
			end := update
			update = func(r *store.Run) error {
				if err := take(r); err != nil {
					return err
				}
				return end(r)
			}
		}
		if final == nil {
			run, err := x.e.opts.Store.UpdateRun(ctx, x.run.ID, update)
			if take != nil {
				x.announced(err)
			}
			return run, err
		}
		c, ok := x.e.opts.Store.(store.RunCommitter)
		if !ok {
			if err := x.recordResult(ctx, final); err != nil {
				return x.run, err
			}
			x.finished(final.step, final.key.Item, final.res, final.started)
			return x.e.opts.Store.UpdateRun(ctx, x.run.ID, update)
		}
		var ds []store.Delivery
		if d := x.delivery(final.key, final.res.Provider, final.res.Action, final.res.Raw); d != nil {
			ds = append(ds, *d)
		}
		run, err := c.FinishAttemptRun(ctx, final.key, final.attempt, final.result, ds, update)
		if err != nil {
			return x.run, fmt.Errorf("record result of step %s: %w", final.step.ID, err)
		}
		x.written.finished(final.key, final.attempt, final.result)
		if len(ds) > 0 {
			x.written.indexed()
		}
		x.finished(final.step, final.key.Item, final.res, final.started)
		return run, nil
	})
}

// lastStep reports whether step is the workflow's last step, whose success
// ends the run.
func (x *execution) lastStep(step *config.Step) bool {
	return len(x.wf.Steps) > 0 && x.wf.Steps[len(x.wf.Steps)-1] == step
}
