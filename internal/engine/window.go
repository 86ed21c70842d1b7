package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// maxWindowRounds bounds how many times one step parks for its send window
// in a run: each park is a wait of its own (keys NoItem, 0, 1, …), since a
// stored wait is never reopened.
const maxWindowRounds = 1000

// windowGate holds a send (a step, or one for_each item) to the step's send
// window before its first attempt (retries are not held). done reports that
// the send must not go out now: res is then its result, skipped or failed
// (recorded), or waiting with opening set for a delayed send, which the
// caller parks for (see parkForWindow). A dry run is not held.
func (x *execution) windowGate(ctx context.Context, step *config.Step, key store.StepKey, scope *expr.Scope) (res stepResult, done bool, err error) {
	w := step.Window
	if w == nil || x.e.opts.DryRun {
		return stepResult{}, false, nil
	}
	loc := w.Location
	if loc == nil {
		ectx, cancel := exprContext(ctx, step)
		v, rerr := w.Timezone.RenderContext(ectx, scope)
		cancel()
		if rerr == nil {
			loc, rerr = windowLocation(v)
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return stepResult{}, true, ErrInterrupted
			}
			res = stepResult{Status: store.StatusFailed, Provider: step.Provider, Error: x.stepError(string(sdk.ClassPermanent), "window timezone: "+rerr.Error())}
			return x.windowFinal(ctx, step, key, res)
		}
	}
	now := x.e.opts.Now()
	if w.Parsed.Contains(now, loc) {
		return stepResult{}, false, nil
	}
	opening := w.Parsed.Next(now, loc)
	if opening.IsZero() {
		res = stepResult{Status: store.StatusFailed, Provider: step.Provider, Error: x.stepError(string(sdk.ClassPermanent), fmt.Sprintf("send window %s %s never opens", w.Parsed.Text, loc))}
		return x.windowFinal(ctx, step, key, res)
	}
	reason := fmt.Sprintf("outside send window %s %s (next opening %s)", w.Parsed.Text, loc, opening.In(loc).Format(time.RFC3339))
	if w.Outside == config.WindowSkip {
		return x.windowFinal(ctx, step, key, stepResult{Status: store.StatusSkipped, Provider: step.Provider, Reason: reason})
	}
	return stepResult{Status: store.StatusWaiting, Reason: reason, opening: opening}, true, nil
}

// holdForWindow applies windowGate to a send about to make its first
// attempt: held reports that it must not go out now, and res is then the
// send's result. A step without for_each that is delayed parks the run
// (errParked); a delayed item is returned for forEach to park.
func (x *execution) holdForWindow(ctx context.Context, step *config.Step, key store.StepKey, scope *expr.Scope) (res stepResult, held bool, err error) {
	res, held, err = x.windowGate(ctx, step, key, scope)
	if held && err == nil && key.Item == store.NoItem && !res.opening.IsZero() {
		err = x.holdStep(ctx, step, key, res)
	}
	return res, held || err != nil, err
}

// windowFinal records the final result of a send its window held.
func (x *execution) windowFinal(ctx context.Context, step *config.Step, key store.StepKey, res stepResult) (stepResult, bool, error) {
	res, err := x.record(ctx, step, key, res, time.Time{})
	if err == nil && key.Item != store.NoItem {
		x.finished(step, key.Item, res, x.e.opts.Now())
	}
	return res, true, err
}

// locations caches the timezones windows name, so a large for_each does
// not read the zone database once per item.
var locations sync.Map

// windowLocation loads the IANA timezone a window's template rendered to;
// Local is refused, as it would make the window depend on the host.
func windowLocation(v any) (*time.Location, error) {
	name, ok := v.(string)
	if !ok || name == "" || name == "Local" {
		return nil, fmt.Errorf("%v is not an IANA timezone such as Europe/Berlin", v)
	}
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown timezone %q: use an IANA name such as Europe/Berlin", name)
	}
	locations.Store(name, loc)
	return loc, nil
}

// parkForWindow parks the run until opening, the earliest time a held send
// of step may go out: a durable wait with opening as its deadline, which the
// host's timers resolve. The run then executes again and every held send is
// evaluated again; the sends done are not redone. It returns errParked, or
// ErrInterrupted when the run could not be parked (its wait was resolved
// meanwhile): the run is released and resumes.
func (x *execution) parkForWindow(ctx context.Context, step *config.Step, opening time.Time, reason string) error {
	ws, err := x.e.waits()
	if err != nil {
		return err
	}
	var w store.Wait
	for round := store.NoItem; ; round++ {
		if round >= maxWindowRounds {
			return fmt.Errorf("step %s waited for its send window %d times in one run", step.ID, maxWindowRounds)
		}
		key := store.StepKey{RunID: x.run.ID, StepID: step.ID, Item: round}
		w, err = ws.GetWait(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			w, err = ws.CreateWait(ctx, store.Wait{StepKey: key, Deadline: opening.UTC(), CreatedAt: x.e.opts.Now().UTC()})
		}
		if err != nil {
			return err
		}
		if !w.Resolved {
			// New, or stored by an execution that stopped before parking.
			break
		}
	}
	parked, err := ws.ParkRun(context.WithoutCancel(ctx), x.run.ID, x.e.opts.Owner, reason)
	if err != nil {
		return err
	}
	if !parked {
		return ErrInterrupted
	}
	if x.e.opts.OnPark != nil {
		x.e.opts.OnPark(w)
	}
	x.e.emit(Event{Type: RunWaiting, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: store.NoItem, Status: string(store.StatusWaiting), Error: reason})
	x.log().Info("run waiting for send window", "step", step.ID, "until", w.Deadline.UTC().Format(time.RFC3339))
	return errParked
}

// holdStep parks the run for the window of a step without for_each: its
// record says waiting, with the reason windowGate gave.
func (x *execution) holdStep(ctx context.Context, step *config.Step, key store.StepKey, held stepResult) error {
	if _, err := x.record(ctx, step, key, stepResult{Status: store.StatusWaiting, Provider: step.Provider, Reason: held.Reason}, time.Time{}); err != nil {
		return err
	}
	return x.parkForWindow(ctx, step, held.opening, fmt.Sprintf("step %s waits: %s", step.ID, held.Reason))
}

// windowReason is the one line a run parked for a for_each step's window
// shows.
func windowReason(step *config.Step, opening time.Time, held, total int) string {
	return fmt.Sprintf("step %s: %d of %d items wait for their send window %s; the first opens %s", step.ID, held, total, step.Window.Parsed.Text, opening.UTC().Format(time.RFC3339))
}
