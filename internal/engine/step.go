package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/jsonenc"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/sdk"
)

// ClassInterrupted marks an attempt whose host stopped before its result was
// recorded: the provider may or may not have acted on it.
const ClassInterrupted = "interrupted"

// stepResult is the outcome of a step, or of one for_each element.
type stepResult struct {
	Status   store.Status
	Output   any
	Raw      json.RawMessage
	Error    *store.StepError
	Attempts int
	Provider string
	// Action is the action of the candidate that produced the result.
	Action string
	// Reason says why a step was skipped.
	Reason string
	// Total is a for_each step's item count.
	Total int
	// Delivery is steps.<id>.delivery (see deliveryValue); forEach marks
	// a for_each step's result.
	Delivery any
	forEach  bool
	// opening is when a send its window holds may go out (see windowGate).
	opening time.Time
}

func (r stepResult) message() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Message
}

func (r stepResult) data() expr.StepData {
	return expr.StepData{Output: r.Output, Status: string(r.Status), Error: r.message(), Attempts: r.Attempts, Provider: r.Provider, Delivery: r.Delivery}
}

func resultFromRecord(rec store.StepRecord) stepResult {
	out, _ := decodeValue(rec.Output)
	return stepResult{Status: rec.Status, Output: out, Raw: rec.Output, Error: rec.Error, Attempts: rec.Attempts, Provider: rec.Provider, Total: rec.Total}
}

// candidate is one action a step may call: the step's own, then each
// fallback in order.
type candidate struct {
	provider, action string
	with             *expr.Value
	override         config.Override
	attempts         int
}

func candidates(step *config.Step) []candidate {
	attempts := step.Retry.MaxAttempts
	if attempts < 1 {
		attempts = 1
	}
	out := []candidate{{provider: step.Provider, action: step.Action, with: step.With, override: step.Override, attempts: attempts}}
	for _, fb := range step.Fallback {
		out = append(out, candidate{provider: fb.Provider, action: fb.Action, with: fb.With, override: fb.Override, attempts: 1})
	}
	return out
}

// idempotencyKey is stable across retries, fallbacks and resumes of one step
// (and element) of one run.
func idempotencyKey(runID, stepID string, item int) string {
	if item == store.NoItem {
		return runID + "/" + stepID
	}
	return runID + "/" + stepID + "/" + strconv.Itoa(item)
}

func (x *execution) step(ctx context.Context, step *config.Step) (stepResult, error) {
	key := store.StepKey{RunID: x.run.ID, StepID: step.ID, Item: store.NoItem}
	if rec, ok := x.records[key]; ok && rec.Status.Final() {
		return resultFromRecord(rec), nil
	}
	if step.If != nil {
		ectx, cancel := exprContext(ctx, step)
		ok, err := step.If.EvalContext(ectx, x.scope)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return stepResult{}, ErrInterrupted
			}
			return x.record(ctx, step, key, stepResult{Status: store.StatusFailed, Error: x.stepError(string(sdk.ClassPermanent), "if: "+err.Error())}, time.Time{})
		}
		if !ok {
			return x.record(ctx, step, key, stepResult{Status: store.StatusSkipped, Reason: "skipped by if: " + step.If.Source()}, time.Time{})
		}
	}
	if step.Wait != nil || step.WaitFor != nil || step.ForEach != nil {
		// Waits and for_each write more than an attempt: the run is taken
		// first.
		if err := x.flush(ctx); err != nil {
			return stepResult{}, err
		}
	}
	if step.Wait != nil || step.WaitFor != nil {
		// A wait writes what the run log does not follow.
		x.written.drop()
		return x.wait(ctx, step)
	}
	if step.ForEach != nil {
		return x.forEach(ctx, step)
	}
	return x.call(ctx, step, store.NoItem, x.scope)
}

// record writes a step record for a step that made no call, or the
// aggregate of a for_each step.
func (x *execution) record(ctx context.Context, step *config.Step, key store.StepKey, res stepResult, started time.Time) (stepResult, error) {
	if err := x.flush(ctx); err != nil {
		return res, err
	}
	now := x.e.opts.Now().UTC()
	if started.IsZero() {
		started = now
	}
	rec := store.StepRecord{StepKey: key, Status: res.Status, Attempts: res.Attempts, Provider: res.Provider, Output: res.Raw, Error: res.Error,
		Reason: res.Reason, Total: res.Total, StartedAt: started.UTC(), FinishedAt: now}
	if !res.Status.Final() {
		rec.FinishedAt = time.Time{}
	}
	if err := x.e.opts.Store.RecordStep(context.WithoutCancel(ctx), rec); err != nil {
		return res, fmt.Errorf("record step %s: %w", step.ID, err)
	}
	x.written.recorded(rec)
	if key.Item == store.NoItem && res.Status.Final() {
		d := now.Sub(started)
		x.e.emit(Event{Type: StepFinished, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: key.Item, Status: string(res.Status), Error: res.message(), Attempts: res.Attempts, Provider: res.Provider, Duration: d})
		if x.e.opts.Logger.IsInfo() {
			x.log().Info("step finished", append([]any{"step", step.ID, "status", res.Status, "attempts", res.Attempts, "duration", ms(d)}, errArg(res.message())...)...)
		}
	}
	return res, nil
}

func (x *execution) stepError(class, msg string) *store.StepError {
	return &store.StepError{Class: class, Message: x.st.masker.String(msg)}
}

// call runs a step (or one element of it) through its candidates with
// retries, recording each attempt's start before the plugin is called and
// its result before anything else happens.
func (x *execution) call(ctx context.Context, step *config.Step, item int, scope *expr.Scope) (stepResult, error) {
	key := store.StepKey{RunID: x.run.ID, StepID: step.ID, Item: item}
	x.mu.Lock()
	prev, seen := x.records[key]
	x.mu.Unlock()
	if seen && prev.Status.Final() {
		return resultFromRecord(prev), nil
	}
	if seen && prev.Status == store.StatusNeedsAttention {
		return waiting(prev), nil
	}
	if prev.Attempts == 0 {
		if res, held, err := x.holdForWindow(ctx, step, key, scope); held {
			x.written.drop()
			return res, err
		}
	}
	attempt := prev.Attempts
	started := x.e.opts.Now()
	single := item == store.NoItem
	if single {
		x.e.emit(Event{Type: StepStarted, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: item, Provider: step.Provider, Action: step.Action})
		if x.e.opts.Logger.IsInfo() {
			x.log().Info("step started", "step", step.ID, "uses", step.Uses)
		}
	}
	timeout := step.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	cands := candidates(step)
	var last *sdk.Error
	lastProvider, lastAction := step.Provider, step.Action
	from, settled, err := x.resumeInDoubt(ctx, step, key, cands, scope, &attempt)
	if err != nil {
		return stepResult{}, err
	}
	if settled != nil || from > 0 {
		x.written.drop()
	}
	if settled != nil {
		if settled.Status == store.StatusSucceeded {
			x.finished(step, item, *settled, started)
		}
		return *settled, nil
	}
	if from > 0 {
		last = sdk.InDoubt(errors.New(interruptedMessage))
	}
	resends := 0
	for ci, c := range cands {
		if ci < from {
			continue
		}
		more := ci < len(cands)-1
		if ci > 0 {
			// A fallback may read steps.<this step> for the failure.
			scope = scope.WithStep(step.ID, stepResult{Status: store.StatusFailed, Error: x.stepError(string(last.Class), last.Error()), Attempts: attempt, Provider: lastProvider}.data())
		}
		ectx, cancel := exprContext(ctx, step)
		req, rerr := x.request(ectx, c, scope, key)
		cancel()
		lastProvider, lastAction = c.provider, c.action
		if rerr != nil {
			if ctx.Err() != nil {
				return stepResult{}, ErrInterrupted
			}
			last = rerr
			continue
		}
		for a := 1; a <= c.attempts; a++ {
			if ctx.Err() != nil {
				return stepResult{}, ErrInterrupted
			}
			waited, err := x.rateWait(ctx, c.provider, c.action, req.Input)
			if err != nil {
				return stepResult{}, ErrInterrupted
			}
			if waited > time.Millisecond {
				x.e.emit(Event{Type: RateLimitWait, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: item, Provider: c.provider, Duration: waited})
			}
			if waited > 0 && attempt == 0 {
				// The window may have closed while the send waited its turn.
				if res, held, err := x.holdForWindow(ctx, step, key, scope); held {
					x.written.drop()
					return res, err
				}
			}
			attempt++
			req.Attempt = a
			attemptStart := x.e.opts.Now().UTC()
			start := store.AttemptStart{Number: attempt, Provider: c.provider, Action: c.action, StartedAt: attemptStart}
			if err := x.startAttempt(ctx, key, start); err != nil {
				return stepResult{}, fmt.Errorf("record start of step %s: %w", step.ID, err)
			}
			x.written.started(key, start)
			if err := x.rateSpace(ctx, c.provider); err != nil {
				return stepResult{}, ErrInterrupted
			}
			actx, span := tracing.StartAttempt(ctx, x.e.opts.Tracer, tracing.Attempt{Step: step.ID, Item: item, Provider: c.provider, Action: c.action, Number: attempt})
			t0 := time.Now()
			out, ex, err := x.invoke(actx, c.provider, req, timeout)
			exReq, exResp := x.exchange(ex)
			if by, canceled := canceledBy(ctx); canceled && err != nil {
				msg := "canceled by " + by
				res := store.AttemptResult{Status: store.StatusCanceled, Outcome: store.OutcomeCanceled, Request: exReq, Response: exResp,
					Error: &store.StepError{Class: string(store.OutcomeCanceled), Message: x.st.masker.String(msg)}, FinishedAt: x.e.opts.Now().UTC()}
				if err := x.e.opts.Store.FinishAttempt(context.WithoutCancel(ctx), key, attempt, res); err != nil {
					return stepResult{}, fmt.Errorf("record result of step %s: %w", step.ID, err)
				}
				x.written.finished(key, attempt, res)
				x.log().Warn("attempt canceled", "step", step.ID, "item", item, "attempt", attempt, "provider", c.provider, "by", by)
				tracing.EndAttempt(span, string(store.OutcomeCanceled), string(store.OutcomeCanceled), res.Error.Message)
				return stepResult{}, ErrInterrupted
			}
			if err == nil {
				res := stepResult{Status: store.StatusSucceeded, Attempts: attempt, Provider: c.provider, Action: c.action}
				res.Raw = maskRawCopy(x.st.masker, out)
				if !single || x.readLater(step) || x.e.opts.DryRun {
					// The last step's output is only recorded, never
					// read from the scope: it is not decoded.
					res.Output, _ = decodeValue(res.Raw)
				}
				if x.e.opts.DryRun {
					res.Output = x.dryRunOutput(c.provider, c.action, step.ID, res.Output)
				}
				result := store.AttemptResult{Status: store.StatusSucceeded, Output: res.Raw, Request: exReq, Response: exResp, FinishedAt: x.e.opts.Now().UTC()}
				tracing.EndAttempt(span, string(store.StatusSucceeded), "", "")
				if single && x.lastStep(step) {
					// The run ends with this success: its result commits
					// with the run's end, and its events follow that
					// commit (execution.finish).
					x.mu.Lock()
					x.final = &finalStep{step: step, key: key, attempt: attempt, result: result, res: res, started: started}
					x.mu.Unlock()
					return res, nil
				}
				if err := x.recordResult(ctx, &finalStep{step: step, key: key, attempt: attempt, result: result, res: res}); err != nil {
					return res, err
				}
				x.finished(step, item, res, started)
				return res, nil
			}
			last = sdk.AsError(err)
			if last.Class == sdk.ClassInDoubt && !x.e.opts.DryRun && step.InDoubtPolicy(x.canReconcile(c)) != config.OnInDoubtRetry {
				// Settling a send in doubt writes what the run log does
				// not follow.
				x.written.drop()
				if err := x.recordInDoubt(ctx, step, key, c, attempt, last, exReq, exResp, time.Since(t0)); err != nil {
					return stepResult{}, err
				}
				tracing.EndAttempt(span, string(store.OutcomeInDoubt), string(last.Class), last.Message)
				s, res, err := x.settleInDoubt(ctx, step, key, c, req, inDoubtAttempt{number: attempt, provider: c.provider, action: c.action, started: attemptStart, err: last}, &attempt)
				if err != nil {
					return stepResult{}, err
				}
				switch s {
				case settledFound:
					x.finished(step, item, res, started)
					return res, nil
				case settledStop:
					return res, nil
				}
				// Not sent: send again, without using up the retry budget
				// (within bounds).
				if resends < maxInDoubtResends {
					resends++
					a--
					continue
				}
				if a < c.attempts {
					continue
				}
				break
			}
			if last.Class == sdk.ClassRateLimited {
				x.rateLimited(c.provider)
			}
			retry := a < c.attempts && last.Class != sdk.ClassPermanent
			serr := x.stepError(string(last.Class), last.Error())
			serr.Field = last.Field
			failed := store.AttemptResult{Status: store.StatusFailed, WillRetry: retry || more, Error: serr,
				Outcome: outcomeOf(last), RetryAfter: last.RetryAfter, Request: exReq, Response: exResp, FinishedAt: x.e.opts.Now().UTC()}
			if err := x.e.opts.Store.FinishAttempt(context.WithoutCancel(ctx), key, attempt, failed); err != nil {
				return stepResult{}, fmt.Errorf("record result of step %s: %w", step.ID, err)
			}
			x.written.finished(key, attempt, failed)
			tracing.EndAttempt(span, string(outcomeOf(last)), string(last.Class), serr.Message)
			var wait time.Duration
			if retry {
				wait = backoff(step.Retry, a)
				if last.Class == sdk.ClassRateLimited && last.RetryAfter > wait {
					wait = last.RetryAfter
				}
			}
			x.e.emit(Event{Type: AttemptFailed, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: item, Attempt: attempt, Provider: c.provider, Action: c.action, Class: string(last.Class), Error: serr.Message, Duration: time.Since(t0), RetryIn: wait})
			logArgs := append(append([]any{"step", step.ID}, itemArg(item)...), "attempt", attempt, "provider", c.provider, "class", last.Class, "error", serr.Message)
			if retry {
				logArgs = append(logArgs, "retry_in", ms(wait))
			}
			x.log().Warn("attempt failed", logArgs...)
			if !retry {
				break
			}
			if err := x.e.opts.Sleep(ctx, wait); err != nil {
				return stepResult{}, ErrInterrupted
			}
		}
	}
	res := stepResult{Status: store.StatusFailed, Attempts: attempt, Provider: lastProvider, Action: lastAction}
	if last != nil {
		res.Error = x.stepError(string(last.Class), last.Error())
		res.Error.Field = last.Field
	}
	// The last attempt's result was recorded as final unless a later
	// candidate could not even be rendered; make the failure final then.
	if _, err := x.recordFinal(ctx, key, res); err != nil {
		return res, err
	}
	x.finished(step, item, res, started)
	return res, nil
}

// recordFinal writes res as the final record of key when the attempt log
// left it running.
func (x *execution) recordFinal(ctx context.Context, key store.StepKey, res stepResult) (bool, error) {
	if err := x.flush(ctx); err != nil {
		return false, err
	}
	recs, err := x.e.opts.Store.StepRecords(ctx, key.RunID)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if r.StepKey == key && r.Status.Final() {
			return false, nil
		}
	}
	now := x.e.opts.Now().UTC()
	rec := store.StepRecord{StepKey: key, Status: res.Status, Attempts: res.Attempts, Provider: res.Provider, Error: res.Error, StartedAt: now, FinishedAt: now}
	if err := x.e.opts.Store.RecordStep(context.WithoutCancel(ctx), rec); err != nil {
		return false, fmt.Errorf("record step %s: %w", key.StepID, err)
	}
	x.written.recorded(rec)
	return true, nil
}

func (x *execution) finished(step *config.Step, item int, res stepResult, started time.Time) {
	d := x.e.opts.Now().Sub(started)
	if item != store.NoItem {
		x.e.emit(Event{Type: ItemFinished, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: item, Status: string(res.Status), Error: res.message(), Attempts: res.Attempts, Provider: res.Provider, Action: res.Action, Duration: d})
		return
	}
	x.e.emit(Event{Type: StepFinished, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: item, Status: string(res.Status), Error: res.message(), Attempts: res.Attempts, Provider: res.Provider, Action: res.Action, Duration: d})
	if x.e.opts.Logger.IsInfo() {
		x.log().Info("step finished", append([]any{"step", step.ID, "status", res.Status, "attempts", res.Attempts, "provider", res.Provider, "duration", ms(d)}, errArg(res.message())...)...)
	}
}

// exprContext bounds the evaluation of a step's if, for_each, with and
// override by the step's timeout, and by ctx, which ends when the host stops.
func exprContext(ctx context.Context, step *config.Step) (context.Context, context.CancelFunc) {
	timeout := step.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	d := &lazyDeadline{parent: ctx, deadline: time.Now().Add(timeout), cause: timeoutCause(timeout)}
	return d, d.cancel
}

// lazyDeadline is context.WithDeadlineCause(parent, deadline, cause) made
// when its Done channel is first asked for. An expression reads its
// context only to stop a loop (see expr's program.eval); most have none,
// and for them the step timeout's context costs no timer, no registration
// with parent and no allocation but itself and its cancel. Until Done
// is called it reports parent's values, cancellation and cause; once
// canceled without having been made, it is done with context.Canceled.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time
	cause    error
	once     sync.Once
	// made is the real context, set once Done made it.
	made     atomic.Pointer[context.Context]
	stop     context.CancelFunc
	canceled atomic.Bool
}

func (d *lazyDeadline) Deadline() (time.Time, bool) {
	if p, ok := d.parent.Deadline(); ok && p.Before(d.deadline) {
		return p, true
	}
	return d.deadline, true
}

func (d *lazyDeadline) Done() <-chan struct{} {
	d.once.Do(func() {
		c, stop := context.WithDeadlineCause(d.parent, d.deadline, d.cause)
		d.stop = stop
		d.made.Store(&c)
	})
	if c := d.made.Load(); c != nil {
		return (*c).Done()
	}
	return closedChan
}

func (d *lazyDeadline) Err() error {
	if c := d.made.Load(); c != nil {
		return (*c).Err()
	}
	if err := d.parent.Err(); err != nil {
		return err
	}
	if d.canceled.Load() {
		return context.Canceled
	}
	return nil
}

func (d *lazyDeadline) Value(key any) any {
	if c := d.made.Load(); c != nil {
		return (*c).Value(key)
	}
	return d.parent.Value(key)
}

// cancel is the context's CancelFunc: it releases the real context when
// Done made one, and keeps Done from making one afterwards.
func (d *lazyDeadline) cancel() {
	d.once.Do(func() { d.canceled.Store(true) })
	if d.stop != nil {
		d.stop()
	}
}

// closedChan is the Done channel of a lazyDeadline canceled before it was
// made.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// timeoutCauses holds the cause of each step timeout in use, so a step's
// evaluation does not format one each time.
var timeoutCauses struct {
	sync.RWMutex
	m map[time.Duration]error
}

// timeoutCause is the cause of an evaluation cut by a step timeout of d.
func timeoutCause(d time.Duration) error {
	timeoutCauses.RLock()
	err, ok := timeoutCauses.m[d]
	timeoutCauses.RUnlock()
	if ok {
		return err
	}
	timeoutCauses.Lock()
	defer timeoutCauses.Unlock()
	if err, ok := timeoutCauses.m[d]; ok {
		return err
	}
	if timeoutCauses.m == nil {
		timeoutCauses.m = map[time.Duration]error{}
	}
	err = fmt.Errorf("the step timeout of %s was reached", d)
	timeoutCauses.m[d] = err
	return err
}

// request renders a candidate's input and overrides.
func (x *execution) request(ctx context.Context, c candidate, scope *expr.Scope, key store.StepKey) (*sdk.InvokeRequest, *sdk.Error) {
	req := &sdk.InvokeRequest{
		Instance:       c.provider,
		Action:         c.action,
		IdempotencyKey: idempotencyKey(key.RunID, key.StepID, key.Item),
		DryRun:         x.e.opts.DryRun,
	}
	var err error
	if req.Input, err = renderJSON(ctx, c.with, scope); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("with: %w", err))
	}
	if req.ConfigOverride, err = renderJSON(ctx, c.override.Config, scope); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("override.config: %w", err))
	}
	if req.BodyOverride, err = renderJSON(ctx, c.override.Body, scope); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("override.body: %w", err))
	}
	if req.Input == nil {
		req.Input = json.RawMessage("{}")
	}
	return req, nil
}

func renderJSON(ctx context.Context, v *expr.Value, scope *expr.Scope) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	m, err := v.RenderMapContext(ctx, scope)
	if err != nil {
		return nil, err
	}
	return jsonenc.Marshal(m)
}

// invoke calls the provider and returns its output and the HTTP exchange it
// reported. The call's context does not end with ctx: an attempt in flight
// when the host is asked to stop is allowed to finish within its timeout,
// so its result is recorded rather than lost. An operator's cancel (ctx's
// cause is a *CanceledError) does end it: the plugin call is cancelled.
func (x *execution) invoke(ctx context.Context, instance string, req *sdk.InvokeRequest, timeout time.Duration) (out json.RawMessage, ex *sdk.Exchange, err error) {
	scope := &callScope{parent: ctx}
	ex = &scope.ex
	callCtx, cancel := context.WithTimeout(scope, timeout)
	defer cancel()
	callCtx, span := tracing.StartCall(callCtx, x.e.opts.Tracer, "invoke", instance, req.Action)
	defer func() { tracing.EndCall(span, errorClass(err)) }()
	stop := context.AfterFunc(ctx, func() {
		if _, ok := canceledBy(ctx); ok {
			cancel()
		}
	})
	defer stop()
	client, err := x.e.opts.Client(callCtx, instance)
	if err != nil {
		return nil, ex, sdk.Retryable(fmt.Errorf("provider %s: %w", instance, err))
	}
	out, err = client.Invoke(callCtx, req)
	if err != nil && callCtx.Err() == context.DeadlineExceeded {
		// The plugin may have sent the request before the deadline cut the
		// call short: the send is in doubt.
		return nil, ex, sdk.InDoubt(fmt.Errorf("attempt timed out after %s", timeout))
	}
	return out, ex, err
}

// exchange returns the request and response of ex masked with the
// project's secrets (the plugin masked its own already), nil when the
// plugin reported none.
func (x *execution) exchange(ex *sdk.Exchange) (req, resp json.RawMessage) {
	return maskRaw(x.st.masker, ex.Request()), maskRaw(x.st.masker, ex.Response())
}

// maskRawCopy returns a copy of raw with the project's secrets masked,
// copying it once: the plugin's buffer is not kept.
func maskRawCopy(masker *sdk.Masker, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(masker.String(string(raw)))
	}
	// The string is read, not kept, while raw is not changed: Replace
	// returns it or a new string, and either is copied below.
	return json.RawMessage(masker.String(unsafe.String(&raw[0], len(raw))))
}

// outcomeOf classes a failed attempt's error for the history.
func outcomeOf(err *sdk.Error) store.Outcome {
	switch o := store.Outcome(err.Class); o {
	case store.OutcomeRetryable, store.OutcomePermanent, store.OutcomeRateLimited, store.OutcomeInDoubt:
		return o
	}
	return store.OutcomeRetryable
}
