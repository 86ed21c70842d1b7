package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// Reconciled reports the answer of a reconcile handler (Event.Status is
// found, not_found or unknown; Event.Error the handler's error, if any).
const Reconciled EventType = "reconciled"

// minReconcileAsks is how often an unknown answer is asked again at least,
// whatever the step's retry policy.
const minReconcileAsks = 3

// maxInDoubtResends bounds the sends an in-doubt attempt may cause beyond
// the step's retry budget (a not_found answer sends again without using up
// the budget), so a provider that always drops its answers cannot loop.
const maxInDoubtResends = 5

// inDoubtSettlement is what became of an in-doubt attempt.
type inDoubtSettlement int

const (
	// settledResend: the send did not happen (or the policy accepts a
	// duplicate): send again.
	settledResend inDoubtSettlement = iota
	// settledFound: the send happened; the step succeeded with its output.
	settledFound
	// settledStop: nobody can tell; the step waits for an operator.
	settledStop
)

// inDoubtAttempt is an attempt whose outcome is unknown.
type inDoubtAttempt struct {
	number           int
	provider, action string
	started          time.Time
	err              *sdk.Error
}

// canReconcile reports whether the action of c has a reconcile handler, as
// the provider described it when the project was loaded; true when that is
// unknown (the call then finds out).
func (x *execution) canReconcile(c candidate) bool {
	p, ok := x.st.project.Providers[c.provider]
	if !ok || p.Spec == nil {
		return true
	}
	a, ok := p.Spec.Action(c.action)
	return !ok || a.CanReconcile()
}

// settleInDoubt applies the step's on_in_doubt to an in-doubt attempt of
// candidate c (whose request is req): retry resends; reconcile asks the
// provider, with backoff while it cannot tell, and records a found send as a
// reconciled attempt; stop (or reconcile that stays unknown) leaves the step
// needing attention. attempt is the step's attempt count, raised when a
// reconciled attempt is recorded. The result is only set for settledFound
// and settledStop.
func (x *execution) settleInDoubt(ctx context.Context, step *config.Step, key store.StepKey, c candidate, req *sdk.InvokeRequest, a inDoubtAttempt, attempt *int) (inDoubtSettlement, stepResult, error) {
	policy := step.InDoubtPolicy(x.canReconcile(c))
	if x.e.opts.DryRun {
		policy = config.OnInDoubtRetry // nothing was sent
	}
	switch policy {
	case config.OnInDoubtRetry:
		return settledResend, stepResult{}, nil
	case config.OnInDoubtStop:
		res, err := x.needsAttention(ctx, step, key, c, a, *attempt, "on_in_doubt is stop")
		return settledStop, res, err
	}
	asks := max(step.Retry.MaxAttempts, minReconcileAsks)
	why := ""
	for n := 1; n <= asks; n++ {
		if ctx.Err() != nil {
			return 0, stepResult{}, ErrInterrupted
		}
		ex := &sdk.Exchange{}
		rec, err := x.reconcile(sdk.WithExchange(ctx, ex), step, c, req, a.started)
		status := sdk.ReconcileUnknown
		if rec != nil {
			status = rec.Status
		}
		x.e.emit(Event{Type: Reconciled, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: key.Item, Attempt: a.number,
			Provider: c.provider, Action: c.action, Status: string(status), Error: errText(x, err)})
		logArgs := append(append([]any{"step", step.ID}, itemArg(key.Item)...), "attempt", a.number, "provider", c.provider, "answer", status)
		if rec != nil && rec.Detail != "" {
			logArgs = append(logArgs, "detail", x.st.masker.String(rec.Detail))
		}
		if err != nil {
			logArgs = append(logArgs, "error", errText(x, err))
		}
		x.log().Info("reconciled an in-doubt attempt", logArgs...)
		switch {
		case errors.Is(err, sdk.ErrNoReconcile):
			res, err := x.needsAttention(ctx, step, key, c, a, *attempt, "the action has no reconcile handler")
			return settledStop, res, err
		case status == sdk.ReconcileFound:
			res, err := x.recordReconciled(ctx, key, c, rec, ex, attempt)
			return settledFound, res, err
		case status == sdk.ReconcileNotFound:
			return settledResend, stepResult{}, nil
		}
		why = "the provider could not tell whether it was sent"
		if err != nil {
			why = "reconcile failed: " + errText(x, err)
		}
		if n < asks {
			if err := x.e.opts.Sleep(ctx, backoff(step.Retry, n)); err != nil {
				return 0, stepResult{}, ErrInterrupted
			}
		}
	}
	res, err := x.needsAttention(ctx, step, key, c, a, *attempt, fmt.Sprintf("asked %d times: %s", asks, why))
	return settledStop, res, err
}

// reconcile asks c's provider once, bounded by the step's timeout.
func (x *execution) reconcile(ctx context.Context, step *config.Step, c candidate, req *sdk.InvokeRequest, since time.Time) (*sdk.Reconciliation, error) {
	timeout := step.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := x.e.opts.Client(callCtx, c.provider)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("provider %s: %w", c.provider, err))
	}
	r, ok := client.(sdk.Reconciler)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s", sdk.ErrNoReconcile, c.provider)
	}
	return r.Reconcile(callCtx, &sdk.ReconcileRequest{InvokeRequest: *req, Since: since})
}

// recordReconciled records a found send as an attempt of its own, outcome
// reconciled, with the output the provider reported and the lookup's HTTP
// exchange: the step succeeded and nothing is sent again.
func (x *execution) recordReconciled(ctx context.Context, key store.StepKey, c candidate, rec *sdk.Reconciliation, ex *sdk.Exchange, attempt *int) (stepResult, error) {
	*attempt++
	now := x.e.opts.Now().UTC()
	if err := x.e.opts.Store.StartAttempt(ctx, key, store.AttemptStart{Number: *attempt, Provider: c.provider, Action: c.action, StartedAt: now}); err != nil {
		return stepResult{}, fmt.Errorf("record reconcile of step %s: %w", key.StepID, err)
	}
	raw, _ := rec.Output.(json.RawMessage)
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	res := stepResult{Status: store.StatusSucceeded, Attempts: *attempt, Provider: c.provider, Action: c.action}
	res.Raw = json.RawMessage(x.st.masker.String(string(raw)))
	res.Output, _ = decodeValue(res.Raw)
	exReq, exResp := x.exchange(ex)
	err := x.e.opts.Store.FinishAttempt(context.WithoutCancel(ctx), key, *attempt, store.AttemptResult{
		Status: store.StatusSucceeded, Outcome: store.OutcomeReconciled, Output: res.Raw, Request: exReq, Response: exResp, FinishedAt: x.e.opts.Now().UTC()})
	if err != nil {
		return res, fmt.Errorf("record reconcile of step %s: %w", key.StepID, err)
	}
	return res, nil
}

// needsAttention leaves the step (item) of an in-doubt attempt waiting for
// an operator's runs resolve: its record becomes needs_attention with the
// attempt's error and a reason saying what to do.
func (x *execution) needsAttention(ctx context.Context, step *config.Step, key store.StepKey, c candidate, a inDoubtAttempt, attempts int, why string) (stepResult, error) {
	msg := "the send is in doubt"
	if a.err != nil {
		msg += ": " + a.err.Error()
	}
	res := stepResult{Status: store.StatusNeedsAttention, Attempts: attempts, Provider: c.provider, Action: c.action,
		Error:  x.stepError(string(sdk.ClassInDoubt), msg),
		Reason: x.st.masker.String(inDoubtReason(x.run.ID, key, why))}
	now := x.e.opts.Now().UTC()
	rec := store.StepRecord{StepKey: key, Status: res.Status, Attempts: attempts, Provider: c.provider, Error: res.Error, Reason: res.Reason, StartedAt: a.started.UTC()}
	if rec.StartedAt.IsZero() {
		rec.StartedAt = now
	}
	if err := x.e.opts.Store.RecordStep(context.WithoutCancel(ctx), rec); err != nil {
		return res, fmt.Errorf("record step %s: %w", step.ID, err)
	}
	x.log().Warn("in-doubt send needs attention", append(append([]any{"step", step.ID}, itemArg(key.Item)...), "attempt", a.number, "provider", c.provider, "why", why)...)
	return res, nil
}

// inDoubtReason is the one line a step (item) needing attention carries.
func inDoubtReason(runID string, key store.StepKey, why string) string {
	where, flag := "step "+key.StepID, ""
	if key.Item != store.NoItem {
		where += fmt.Sprintf(" item %d", key.Item)
		flag = fmt.Sprintf(" --item %d", key.Item)
	}
	return fmt.Sprintf("%s: the send is in doubt (%s); settle it with herald runs resolve %s --step %s%s --as sent|unsent",
		where, why, runID, key.StepID, flag)
}

// waiting returns the result of a step (item) whose record still needs
// attention: it stays that way until runs resolve settles it.
func waiting(rec store.StepRecord) stepResult {
	res := resultFromRecord(rec)
	res.Reason = rec.Reason
	return res
}

// parkNeedsAttention ends this execution of the run in needs_attention
// with reason, releasing it: runs resolve (or retry, or cancel) continues it.
func (e *Engine) parkNeedsAttention(ctx context.Context, st *projectState, run store.Run, reason string) (store.Run, error) {
	reason = st.masker.String(reason)
	run, err := e.opts.Store.UpdateRun(context.WithoutCancel(ctx), run.ID, func(r *store.Run) error {
		r.Status = store.StatusNeedsAttention
		r.Error = reason
		r.Reason = reason
		r.Owner = ""
		return nil
	})
	if err != nil {
		return run, err
	}
	e.emit(Event{Type: RunFinished, RunID: run.ID, Workflow: run.Workflow, Item: store.NoItem, Status: string(store.StatusNeedsAttention), Error: reason,
		Duration: e.opts.Now().Sub(run.StartedAt)})
	e.opts.Logger.Warn("run needs attention", "run_id", run.ID, "workflow", run.Workflow, "reason", reason)
	return run, nil
}

// findInDoubt collects, on a resume, the last attempt of each step (item)
// that ended in doubt and was never settled: one that was running when its
// host stopped (closed by closeInterrupted as in doubt), or one whose
// in-doubt result was recorded but whose settlement was cut short. An
// attempt older than an operator's retry or resolve was settled by that
// operator and is not settled again.
func (x *execution) findInDoubt(ctx context.Context, attempts []store.Attempt, interrupted map[store.StepKey]int) error {
	last := map[store.StepKey]store.Attempt{}
	for _, a := range attempts {
		if prev, ok := last[a.StepKey]; !ok || a.Number > prev.Number {
			last[a.StepKey] = a
		}
	}
	var settledAt time.Time
	ops, err := x.e.opts.Store.Operations(ctx, x.run.ID)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if (op.Action == OpRetry || op.Action == OpResolve) && op.At.After(settledAt) {
			settledAt = op.At
		}
	}
	// Where the trailing run of in-doubt attempts of each step (item)
	// began: a send in doubt may be followed by attempts that are in doubt
	// too without having sent anything (a reconcile or resend cut short by
	// a stop), and the lookup must reach back to the first of them, or it
	// misses the send that did happen.
	chainStart := map[store.StepKey]time.Time{}
	for _, a := range attempts {
		inDoubt := (a.Outcome == store.OutcomeInDoubt || a.Status == store.StatusRunning) && a.StartedAt.After(settledAt)
		if _, open := chainStart[a.StepKey]; !inDoubt {
			delete(chainStart, a.StepKey)
		} else if !open {
			chainStart[a.StepKey] = a.StartedAt
		}
	}
	x.inDoubt = map[store.StepKey]inDoubtAttempt{}
	for key, a := range last {
		if rec, ok := x.records[key]; ok && (rec.Status.Final() || rec.Status == store.StatusNeedsAttention) {
			continue
		}
		_, cut := interrupted[key]
		if !cut && (a.Outcome != store.OutcomeInDoubt || !a.StartedAt.After(settledAt)) {
			continue
		}
		d := inDoubtAttempt{number: a.Number, provider: a.Provider, action: a.Action, started: a.StartedAt}
		if start, ok := chainStart[key]; ok && start.Before(d.started) {
			d.started = start
		}
		if a.Error != nil {
			d.err = &sdk.Error{Class: sdk.ClassInDoubt, Message: a.Error.Message}
		}
		if cut {
			d.err = &sdk.Error{Class: sdk.ClassInDoubt, Message: interruptedMessage}
		}
		x.inDoubt[key] = d
	}
	return nil
}

// takeInDoubt returns and forgets the unsettled in-doubt attempt of key
// found on resume.
func (x *execution) takeInDoubt(key store.StepKey) (inDoubtAttempt, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	a, ok := x.inDoubt[key]
	delete(x.inDoubt, key)
	return a, ok
}

// resumeInDoubt settles, before a resumed step (item) sends anything, the
// in-doubt attempt an earlier execution left: it returns the index of the
// candidate to send with next, or a final result (found, or needs
// attention).
func (x *execution) resumeInDoubt(ctx context.Context, step *config.Step, key store.StepKey, cands []candidate, scope *expr.Scope, attempt *int) (int, *stepResult, error) {
	a, ok := x.takeInDoubt(key)
	if !ok {
		return 0, nil, nil
	}
	ci := -1
	for i, c := range cands {
		if c.provider == a.provider && c.action == a.action {
			ci = i
			break
		}
	}
	if ci < 0 {
		// The workflow changed since: the action in doubt is not the
		// step's any more, so nobody can ask it.
		c := candidate{provider: a.provider, action: a.action}
		res, err := x.needsAttention(ctx, step, key, c, a, *attempt, "the step no longer calls "+a.provider+"."+a.action)
		return 0, &res, err
	}
	c := cands[ci]
	if ci > 0 {
		// A fallback may read steps.<this step> for the failure.
		scope = scope.WithStep(step.ID, stepResult{Status: store.StatusFailed, Error: x.stepError(string(sdk.ClassInDoubt), a.err.Error()), Attempts: *attempt, Provider: c.provider}.data())
	}
	ectx, cancel := exprContext(ctx, step)
	req, rerr := x.request(ectx, c, scope, key)
	cancel()
	if rerr != nil {
		res, err := x.needsAttention(ctx, step, key, c, a, *attempt, "its input can no longer be rendered: "+rerr.Error())
		return 0, &res, err
	}
	s, res, err := x.settleInDoubt(ctx, step, key, c, req, a, attempt)
	if err != nil || s != settledResend {
		return 0, &res, err
	}
	return ci, nil, nil
}

// recordInDoubt records the in-doubt result of an attempt, which leaves the
// step open while the in-doubt rule settles it, and reports it.
func (x *execution) recordInDoubt(ctx context.Context, step *config.Step, key store.StepKey, c candidate, attempt int, last *sdk.Error, exReq, exResp json.RawMessage, took time.Duration) error {
	serr := x.stepError(string(last.Class), last.Error())
	serr.Field = last.Field
	if err := x.e.opts.Store.FinishAttempt(context.WithoutCancel(ctx), key, attempt, store.AttemptResult{Status: store.StatusFailed, WillRetry: true, Error: serr,
		Outcome: store.OutcomeInDoubt, Request: exReq, Response: exResp, FinishedAt: x.e.opts.Now().UTC()}); err != nil {
		return fmt.Errorf("record result of step %s: %w", step.ID, err)
	}
	x.e.emit(Event{Type: AttemptFailed, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: key.Item, Attempt: attempt, Provider: c.provider, Action: c.action, Class: string(last.Class), Error: serr.Message, Duration: took})
	x.log().Warn("attempt in doubt", append(append([]any{"step", step.ID}, itemArg(key.Item)...), "attempt", attempt, "provider", c.provider, "error", serr.Message)...)
	return nil
}

// errText is err's masked message, "" for nil.
func errText(x *execution, err error) string {
	if err == nil {
		return ""
	}
	return x.st.masker.String(err.Error())
}

const interruptedMessage = "the host stopped during this attempt; the provider may or may not have received it"
