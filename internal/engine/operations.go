package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The actions of the operation log (store.Operation.Action).
const (
	OpRetry   = "retry"
	OpCancel  = "cancel"
	OpResolve = "resolve"
	OpSignal  = "signal"
	// OpResume is logged by a host that resumes a run whose owner stopped
	// without finishing or releasing it; the poison-run rule counts them.
	OpResume = "resume"
)

// Retry prepares a failed, canceled or needs_attention run to continue as
// the same run from fromStep: the run goes back to queued with its error and
// reason cleared, and the step records from fromStep on are reopened, so
// the next Execute (the caller's to start) runs them again with attempt
// numbers that continue the history. With fromStep empty, the run continues
// from the first step that did not succeed and only the records that did
// not succeed are reopened (succeeded for_each items are not sent again);
// a named fromStep runs that step and every later one again in full.
// Earlier steps keep their recorded outputs. The retry is logged as done by
// by. A run in another status is ErrRunState; an unknown step ErrInvalid.
func (e *Engine) Retry(ctx context.Context, id, fromStep, by string) (store.Run, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	if !run.Status.Retryable() {
		return run, fmt.Errorf("run %s is %s: %w; only a failed, canceled or needs_attention run can be retried",
			id, run.Status, ErrRunState)
	}
	wf, ok := e.Project().Workflows[run.Workflow]
	if !ok {
		return run, fmt.Errorf("%w: run %s: workflow %q is no longer in the project", store.ErrInvalid, id, run.Workflow)
	}
	ids := make([]string, len(wf.Steps))
	for i, s := range wf.Steps {
		ids[i] = s.ID
	}
	recs, err := e.opts.Store.StepRecords(ctx, id)
	if err != nil {
		return run, err
	}
	all := fromStep != ""
	if fromStep == "" {
		fromStep = firstUnfinished(ids, recs)
	}
	from := slices.Index(ids, fromStep)
	if from < 0 {
		return run, fmt.Errorf("%w: workflow %s has no step %q", store.ErrInvalid, run.Workflow, fromStep)
	}
	reopen := ids[from:]
	now := e.opts.Now().UTC()
	for _, r := range recs {
		if !slices.Contains(reopen, r.StepID) || (!all && r.Status == store.StatusSucceeded && r.Item != store.NoItem) {
			continue
		}
		if !r.Status.Final() && r.Status != store.StatusNeedsAttention {
			continue
		}
		if err := e.opts.Store.ReopenStep(ctx, r.StepKey); err != nil {
			return run, err
		}
	}
	run, err = e.opts.Store.UpdateRun(ctx, id, func(r *store.Run) error {
		if !r.Status.Retryable() {
			return fmt.Errorf("run %s is %s: %w", id, r.Status, ErrRunState)
		}
		r.Status = store.StatusQueued
		r.Error, r.Reason, r.CancelRequested = "", "", ""
		r.Owner = ""
		r.FinishedAt = time.Time{}
		return nil
	})
	if err != nil {
		return run, err
	}
	detail := "from step " + fromStep
	if !all {
		detail += " (the first that did not succeed)"
	}
	if err := e.opts.Store.AddOperation(ctx, store.Operation{RunID: id, At: now, By: by, Action: OpRetry, Detail: detail}); err != nil {
		return run, err
	}
	e.opts.Logger.Info("run retried", "run_id", id, "from_step", fromStep, "by", by)
	return run, nil
}

// firstUnfinished returns the first step of ids whose record did not
// succeed (or was never written); the first step when all did.
func firstUnfinished(ids []string, recs []store.StepRecord) string {
	done := map[string]bool{}
	for _, r := range recs {
		if r.Item == store.NoItem && (r.Status == store.StatusSucceeded || r.Status == store.StatusSkipped) {
			done[r.StepID] = true
		}
	}
	for _, id := range ids {
		if !done[id] {
			return id
		}
	}
	if len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// CancelResult says how Cancel stopped a run.
type CancelResult int

const (
	// Canceled: the run is canceled now.
	Canceled CancelResult = iota
	// CancelRequested: another process executes the run; it stops the run
	// within a heartbeat interval.
	CancelRequested
)

// Cancel stops a queued, running, waiting or needs_attention run. A run
// this engine executes is stopped through its context: an attempt in flight
// is cancelled (its plugin call too) and recorded canceled, and Cancel waits
// up to wait for the run to end. A run nothing executes (queued, waiting,
// needs_attention, or running under an owner that stopped beating) is ended
// canceled at once. A run another live process executes gets a cancel
// request that process picks up with its next heartbeat. The cancel is
// logged as done by by. A run that already ended is ErrRunState.
func (e *Engine) Cancel(ctx context.Context, id, by string, wait time.Duration) (CancelResult, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return 0, err
	}
	if !run.ShownStatus(e.opts.Now()).Cancelable() {
		return 0, fmt.Errorf("run %s is %s: %w; it has already ended", id, run.Status, ErrRunState)
	}
	op := store.Operation{RunID: id, At: e.opts.Now().UTC(), By: by, Action: OpCancel}
	if v, ok := e.executing.Load(id); ok {
		live := v.(*liveRun)
		op.Detail = "the run was executing here; stopped at once"
		if err := e.opts.Store.AddOperation(ctx, op); err != nil {
			return 0, err
		}
		live.cancel(&CanceledError{By: by})
		select {
		case <-live.done:
		case <-time.After(wait):
		case <-ctx.Done():
		}
		return Canceled, nil
	}
	now := e.opts.Now()
	var requested bool
	run, err = e.opts.Store.UpdateRun(ctx, id, func(r *store.Run) error {
		requested = false
		if !r.ShownStatus(now).Cancelable() {
			return fmt.Errorf("run %s is %s: %w; it has already ended", id, r.Status, ErrRunState)
		}
		r.CancelRequested = by
		// A live owner elsewhere stops the run itself; anything else has
		// no process behind it and ends here.
		requested = r.Status == store.StatusRunning && !r.Interrupted(now) && r.Owner != ""
		return nil
	})
	if err != nil {
		return 0, err
	}
	if requested {
		op.Detail = "requested from " + run.Owner + ", which stops it at its next heartbeat"
		return CancelRequested, e.opts.Store.AddOperation(ctx, op)
	}
	op.Detail = "the run was " + string(run.ShownStatus(now)) + "; nothing executed it"
	if err := e.opts.Store.AddOperation(ctx, op); err != nil {
		return 0, err
	}
	if _, err := e.finishCanceled(ctx, e.state.Load(), run, by); err != nil {
		return 0, err
	}
	return Canceled, nil
}

// finishCanceled ends run canceled by by: attempts left running are
// recorded canceled, step records that did not end are marked canceled, and
// the run ends with the reason "canceled by <by>".
func (e *Engine) finishCanceled(ctx context.Context, st *projectState, run store.Run, by string) (store.Run, error) {
	ctx = context.WithoutCancel(ctx)
	reason := "canceled by " + by
	now := e.opts.Now().UTC()
	attempts, err := e.opts.Store.Attempts(ctx, run.ID)
	if err != nil {
		return run, err
	}
	for _, a := range attempts {
		if a.Status != store.StatusRunning {
			continue
		}
		res := store.AttemptResult{Status: store.StatusCanceled, Outcome: store.OutcomeCanceled,
			Error: &store.StepError{Class: string(store.OutcomeCanceled), Message: reason}, FinishedAt: now}
		if err := e.opts.Store.FinishAttempt(ctx, a.StepKey, a.Number, res); err != nil && !errors.Is(err, store.ErrConflict) {
			return run, err
		}
	}
	recs, err := e.opts.Store.StepRecords(ctx, run.ID)
	if err != nil {
		return run, err
	}
	for _, r := range recs {
		if r.Status.Final() {
			continue
		}
		r.Status, r.Reason, r.FinishedAt = store.StatusCanceled, reason, now
		if r.StartedAt.IsZero() {
			r.StartedAt = now
		}
		if err := e.opts.Store.RecordStep(ctx, r); err != nil && !errors.Is(err, store.ErrConflict) {
			return run, err
		}
		if r.Item == store.NoItem {
			e.emit(Event{Type: StepFinished, RunID: run.ID, Workflow: run.Workflow, StepID: r.StepID, Item: store.NoItem,
				Status: string(store.StatusCanceled), Error: reason, Attempts: r.Attempts, Provider: r.Provider})
		}
	}
	return e.finish(ctx, st, run, store.StatusCanceled, "", reason)
}

// Resolve settles the in-doubt attempt of a needs_attention run's step (and
// item; store.NoItem for a step without for_each), as an operator decided:
// sent records the step succeeded without sending it again (its output is
// null), !sent reopens it so it is sent again. The run goes back to queued
// for the caller to execute. A run that does not need attention is
// ErrRunState; a step that is not the run's in-doubt one ErrInvalid.
func (e *Engine) Resolve(ctx context.Context, id, step string, item int, sent bool, by string) (store.Run, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	if run.Status != store.StatusNeedsAttention {
		return run, fmt.Errorf("run %s is %s: %w; only a run that needs attention has an in-doubt attempt to resolve",
			id, run.ShownStatus(e.opts.Now()), ErrRunState)
	}
	recs, err := e.opts.Store.StepRecords(ctx, id)
	if err != nil {
		return run, err
	}
	key := store.StepKey{RunID: id, StepID: step, Item: item}
	var rec *store.StepRecord
	for i := range recs {
		if recs[i].StepKey == key {
			rec = &recs[i]
		}
	}
	if rec == nil || rec.Status != store.StatusNeedsAttention {
		return run, fmt.Errorf("%w: step %s item %d of run %s is not in doubt", store.ErrInvalid, step, item, id)
	}
	now := e.opts.Now().UTC()
	detail := fmt.Sprintf("step %s", step)
	if item != store.NoItem {
		detail += fmt.Sprintf(" item %d", item)
	}
	if sent {
		rec.Status, rec.Error, rec.Output, rec.FinishedAt = store.StatusSucceeded, nil, json.RawMessage("null"), now
		rec.Reason = "resolved as sent by " + by
		if err := e.opts.Store.RecordStep(ctx, *rec); err != nil {
			return run, err
		}
		detail += " as sent"
	} else {
		if err := e.opts.Store.ReopenStep(ctx, key); err != nil {
			return run, err
		}
		detail += " as unsent: it is sent again"
	}
	run, err = e.opts.Store.UpdateRun(ctx, id, func(r *store.Run) error {
		if r.Status != store.StatusNeedsAttention {
			return fmt.Errorf("run %s is %s: %w", id, r.Status, ErrRunState)
		}
		r.Status, r.Reason, r.Owner = store.StatusQueued, "", ""
		return nil
	})
	if err != nil {
		return run, err
	}
	return run, e.opts.Store.AddOperation(ctx, store.Operation{RunID: id, At: now, By: by, Action: OpResolve, Detail: detail})
}
