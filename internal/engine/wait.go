package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// RunWaiting reports a run parked on a wait or wait_for step: Error says
// what it waits for and until when.
const RunWaiting EventType = "run_waiting"

// errParked ends an execution whose run is parked on a wait step: the run
// is waiting in the store and nothing executes it until its wait resolves.
var errParked = errors.New("run is waiting")

// WaitOutput is the output of a wait_for step (and of a wait step, which
// only ever times out): whether an event or signal ended it, which, and
// whether the timeout did.
type WaitOutput struct {
	Matched bool `json:"matched"`
	// Event is the data of the provider event that matched.
	Event any `json:"event,omitempty"`
	// Signal names the signal that ended the wait, and Data is its data.
	Signal string `json:"signal,omitempty"`
	Data   any    `json:"data,omitempty"`
	// TimedOut is set when the deadline passed first.
	TimedOut bool `json:"timed_out"`
}

// waits returns the store's durable waits, which every bundled store keeps.
func (e *Engine) waits() (store.Waits, error) {
	ws, ok := e.opts.Store.(store.Waits)
	if !ok {
		return nil, errors.New("this store keeps no durable waits")
	}
	return ws, nil
}

// wait executes a wait or wait_for step: it stores the wait (once; a
// resumed step keeps its deadline), ends it at once when an event in the
// inbox matches or the deadline has passed, and otherwise parks the run
// (errParked). A run resumed after its wait resolved records the step with
// the wait's output.
func (x *execution) wait(ctx context.Context, step *config.Step) (stepResult, error) {
	key := store.StepKey{RunID: x.run.ID, StepID: step.ID, Item: store.NoItem}
	fail := func(msg string) (stepResult, error) {
		return x.record(ctx, step, key, stepResult{Status: store.StatusFailed, Error: x.stepError(string(sdk.ClassPermanent), msg)}, time.Time{})
	}
	if x.e.opts.DryRun {
		// A dry run renders what would be sent; it does not wait, and
		// goes on as if the wait timed out.
		res := stepResult{Status: store.StatusSucceeded, Raw: timedOut, Reason: "dry run: not waited"}
		res.Output, _ = decodeValue(timedOut)
		return x.record(ctx, step, key, res, time.Time{})
	}
	ws, err := x.e.waits()
	if err != nil {
		return fail(err.Error())
	}
	w, err := ws.GetWait(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		w, err = x.newWait(ctx, ws, step, key)
		if err != nil {
			if ctx.Err() != nil {
				return stepResult{}, ErrInterrupted
			}
			var bad *badWaitError
			if errors.As(err, &bad) {
				return fail(bad.msg)
			}
			return stepResult{}, err
		}
	} else if err != nil {
		return stepResult{}, err
	}
	if !w.Resolved {
		parked, err := x.settleOrPark(ctx, ws, step, w)
		if err != nil {
			return stepResult{}, err
		}
		if parked {
			return stepResult{}, errParked
		}
		if w, err = ws.GetWait(ctx, key); err != nil {
			return stepResult{}, err
		}
	}
	if !w.Resolved {
		// Not parked (the run moved on, say canceled) and not resolved.
		return stepResult{}, ErrInterrupted
	}
	res := stepResult{Status: store.StatusSucceeded, Raw: w.Output}
	res.Output, _ = decodeValue(w.Output)
	return x.record(ctx, step, key, res, w.CreatedAt)
}

// badWaitError is a wait that cannot start, such as an until that renders
// to no time: the step fails.
type badWaitError struct{ msg string }

func (e *badWaitError) Error() string { return e.msg }

// newWait computes the step's deadline and stores its wait and its waiting
// step record.
func (x *execution) newWait(ctx context.Context, ws store.Waits, step *config.Step, key store.StepKey) (store.Wait, error) {
	now := x.e.opts.Now().UTC()
	w := store.Wait{StepKey: key, CreatedAt: now}
	switch {
	case step.Wait != nil && step.Wait.Until != nil:
		ectx, cancel := exprContext(ctx, step)
		v, err := step.Wait.Until.RenderContext(ectx, x.scope)
		cancel()
		if err != nil {
			return w, &badWaitError{"until: " + err.Error()}
		}
		at, ok := asTime(v)
		if !ok {
			return w, &badWaitError{fmt.Sprintf("until: %v is not a timestamp", v)}
		}
		w.Deadline = at.UTC()
	case step.Wait != nil:
		d, err := x.waitDuration(ctx, step, "duration", step.Wait.Duration, step.Wait.DurationTemplate)
		if err != nil {
			return w, err
		}
		w.Deadline = now.Add(d)
	case step.WaitFor != nil:
		d, err := x.waitDuration(ctx, step, "timeout", step.WaitFor.Timeout, step.WaitFor.TimeoutTemplate)
		if err != nil {
			return w, err
		}
		w.Deadline = now.Add(d)
		w.Event, w.Instance, w.Signal = step.WaitFor.Event, step.WaitFor.Provider, step.WaitFor.Signal
		if kv := step.WaitFor.KeyValue; kv != nil {
			ectx, cancel := exprContext(ctx, step)
			v, err := kv.RenderContext(ectx, x.scope)
			cancel()
			if err == nil {
				// A value that does not render leaves the wait unkeyed:
				// every event of its type is offered to its match.
				w.MatchKey = matchKey(step.WaitFor.KeyPath, v)
			}
		}
	}
	stored, err := ws.CreateWait(ctx, w)
	if err != nil {
		return stored, err
	}
	x.e.emit(Event{Type: StepStarted, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: store.NoItem})
	_, err = x.record(ctx, step, key, stepResult{Status: store.StatusWaiting, Reason: waitReason(step, stored.Deadline)}, now)
	return stored, err
}

// waitDuration returns a wait's duration or a wait_for's timeout (named
// key): d as loaded, or tmpl rendered now, which must yield a positive
// duration (text such as "2m", or a CEL duration).
func (x *execution) waitDuration(ctx context.Context, step *config.Step, key string, d time.Duration, tmpl *expr.Value) (time.Duration, error) {
	if tmpl == nil {
		return d, nil
	}
	ectx, cancel := exprContext(ctx, step)
	v, err := tmpl.RenderContext(ectx, x.scope)
	cancel()
	if err != nil {
		return 0, &badWaitError{fmt.Sprintf("step %s: %s: %v", step.ID, key, err)}
	}
	switch t := v.(type) {
	case time.Duration:
		d = t
	case string:
		if d, err = time.ParseDuration(strings.TrimSpace(t)); err != nil {
			return 0, &badWaitError{fmt.Sprintf("step %s: %s rendered %q, which is not a duration such as 30s or 2m", step.ID, key, t)}
		}
	default:
		return 0, &badWaitError{fmt.Sprintf("step %s: %s rendered %v, which is not a duration such as 30s or 2m", step.ID, key, v)}
	}
	if d <= 0 {
		return 0, &badWaitError{fmt.Sprintf("step %s: %s rendered %s; it must be positive", step.ID, key, d)}
	}
	return d, nil
}

// asTime reads a rendered until: a timestamp, or RFC 3339 text.
func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		at, err := time.Parse(time.RFC3339Nano, t)
		return at, err == nil
	}
	return time.Time{}, false
}

// waitReason is the one line a waiting run and step show.
func waitReason(step *config.Step, deadline time.Time) string {
	until := deadline.UTC().Format(time.RFC3339)
	if step.WaitFor != nil {
		return fmt.Sprintf("step %s waits for %s until %s", step.ID, step.WaitFor, until)
	}
	return fmt.Sprintf("step %s waits until %s", step.ID, until)
}

// settleOrPark ends the pending wait w at once when a signal or an event
// kept in the run's inbox matches it or its deadline has passed; otherwise it parks the run
// and reports parked. A wait resolved by someone else meanwhile (an event,
// a signal, a timer) is not parked: the caller reads its output.
func (x *execution) settleOrPark(ctx context.Context, ws store.Waits, step *config.Step, w store.Wait) (parked bool, err error) {
	if wf := step.WaitFor; wf != nil && wf.Signal != "" {
		// A signal sent before the step waited is kept for it.
		if took, _, err := ws.TakeSignal(ctx, w.StepKey, wf.Signal, x.e.opts.Now().UTC()); err != nil || took {
			return false, err
		}
	}
	if out, ok, err := x.inboxMatch(ctx, ws, step); err != nil {
		return false, err
	} else if ok {
		_, _, err := ws.ResolveWait(ctx, w.StepKey, out, x.e.opts.Now().UTC())
		return false, err
	}
	if !x.e.opts.Now().Before(w.Deadline) {
		_, _, err := ws.ResolveWait(ctx, w.StepKey, timedOut, x.e.opts.Now().UTC())
		return false, err
	}
	reason := waitReason(step, w.Deadline)
	parked, err = ws.ParkRun(context.WithoutCancel(ctx), x.run.ID, x.e.opts.Owner, reason)
	if err != nil || !parked {
		return false, err
	}
	if x.e.opts.OnPark != nil {
		x.e.opts.OnPark(w)
	}
	x.e.emit(Event{Type: RunWaiting, RunID: x.run.ID, Workflow: x.run.Workflow, StepID: step.ID, Item: store.NoItem, Status: string(store.StatusWaiting), Error: reason})
	x.log().Info("run waiting", "step", step.ID, "until", w.Deadline.UTC().Format(time.RFC3339))
	return true, nil
}

// timedOut is the output of a wait that reached its deadline.
var timedOut = mustJSON(WaitOutput{TimedOut: true})

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// inboxMatch looks for an event that arrived since the run was created and
// matches the step's wait_for, oldest first.
func (x *execution) inboxMatch(ctx context.Context, ws store.Waits, step *config.Step) (json.RawMessage, bool, error) {
	wf := step.WaitFor
	if wf == nil || wf.Event == "" {
		return nil, false, nil
	}
	since := x.run.CreatedAt
	if oldest := x.e.opts.Now().Add(-store.InboxMaxAge); oldest.After(since) {
		since = oldest
	}
	evs, err := ws.InboxEvents(ctx, wf.Event, wf.Provider, since)
	if err != nil {
		return nil, false, err
	}
	for _, ev := range evs {
		data, err := decodeValue(ev.Data)
		if err != nil {
			continue
		}
		if ok, _ := matches(ctx, step, x.scope, data); ok {
			out, err := json.Marshal(WaitOutput{Matched: true, Event: data})
			return out, err == nil, err
		}
	}
	return nil, false, nil
}

// matches evaluates the wait_for's match with event in scope; no match
// accepts every event.
func matches(ctx context.Context, step *config.Step, scope *expr.Scope, event any) (bool, error) {
	if step.WaitFor.Match == nil {
		return true, nil
	}
	ectx, cancel := exprContext(ctx, step)
	defer cancel()
	return step.WaitFor.Match.EvalContext(ectx, scope.WithEvent(event))
}

// WaitKey names a step (or item) a run waits on.
type WaitKey = store.StepKey

// ResolveTimeout ends the pending wait of key because its deadline came:
// its output says timed_out. It reports whether the run went back to
// queued, for the caller to execute it; a wait resolved already (an event
// or signal came first, or another replica fired) changes nothing.
func (e *Engine) ResolveTimeout(ctx context.Context, key WaitKey) (requeued bool, err error) {
	ws, err := e.waits()
	if err != nil {
		return false, err
	}
	res, err := e.settle.settle(ctx, ws, store.Settlement{Key: key, Output: timedOut}, e.opts.Now)
	return res.Requeued, err
}

// DeliverEvent offers a provider event to the wait_for steps waiting for
// its type from instance: each candidate (read through the store's index
// by event type, instance and match key, not a scan of waiting runs) whose
// match accepts the event is resolved with it. It returns the waits whose
// runs went back to queued, for the caller to execute. An event that ended no wait,
// and that some workflow's wait_for waits on, is kept in the inbox for
// steps that start waiting later.
func (e *Engine) DeliverEvent(ctx context.Context, instance, eventType string, raw json.RawMessage) ([]WaitKey, error) {
	st := e.state.Load()
	if !st.project.WaitsForEvent(instance, eventType) {
		return nil, nil
	}
	ws, err := e.waits()
	if err != nil {
		return nil, err
	}
	now := e.opts.Now().UTC()
	data, err := decodeValue(raw)
	if err != nil {
		return nil, err
	}
	output, err := json.Marshal(WaitOutput{Matched: true, Event: data})
	if err != nil {
		return nil, err
	}
	// One write reads the candidates through the index, ends at once those
	// whose match is only the correlation their key met, and keeps an event
	// that meets no wait in the inbox; it shares its commit with the
	// settlements of concurrent callers.
	res, err := e.settle.settle(ctx, ws, store.Settlement{Delivery: &store.EventDelivery{
		Event: eventType, Instance: instance, Keys: eventKeys(st.project, instance, eventType, data),
		Output: output, Data: raw,
		Settle: func(w store.Wait) bool {
			return w.MatchKey != "" && st.project.ExactWaitStep(w.Instance, w.Event, w.StepID)
		},
	}}, e.opts.Now)
	if err != nil {
		return nil, err
	}
	var out []WaitKey
	for _, ended := range res.Ended {
		if ended.Requeued {
			out = append(out, ended.Key)
		}
	}
	taken := res.Kept || len(res.Ended) > 0
	for _, w := range res.Candidates {
		resolved, requeued, err := e.offer(ctx, st, ws, w, data, now)
		if err != nil {
			return out, err
		}
		taken = taken || resolved
		if requeued {
			out = append(out, w.StepKey)
		}
	}
	if !taken {
		// Nothing waiting took it: keep it for a step that waits later.
		if err := ws.AddInboxEvent(ctx, store.InboxEvent{Event: eventType, Instance: instance, Data: raw, ReceivedAt: now}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// offer tests one candidate wait against an event and resolves it on a
// match: resolved reports that the event ended the wait, requeued that its
// run went back to queued.
func (e *Engine) offer(ctx context.Context, st *projectState, ws store.Waits, w store.Wait, event any, now time.Time) (resolved, requeued bool, err error) {
	if w.MatchKey != "" && st.project.ExactWaitStep(w.Instance, w.Event, w.StepID) {
		// The keys are equal and the match is nothing but them: the wait
		// matched, with no read of its run.
		return e.resolveMatched(ctx, ws, w, event, now)
	}
	run, err := e.opts.Store.GetRun(ctx, w.RunID)
	if err != nil {
		return false, false, err
	}
	wf, ok := st.project.Workflows[run.Workflow]
	if !ok {
		return false, false, nil
	}
	step, ok := wf.Step(w.StepID)
	if !ok || step.WaitFor == nil {
		return false, false, nil
	}
	// A keyed wait whose match is only its correlation matched already:
	// its key equals the event's.
	if w.MatchKey == "" || !step.WaitFor.KeyExact {
		scope := expr.NewScope(expr.RunData{ID: run.ID, Workflow: run.Workflow, Attempt: run.Attempt}, expr.TriggerData{}, st.project.Secrets)
		if step.WaitFor.Match != nil {
			if scope, err = e.runScope(ctx, st, run, wf); err != nil {
				return false, false, err
			}
		}
		if ok, err := matches(ctx, step, scope, event); err != nil || !ok {
			return false, false, nil //nolint:nilerr // a match that fails to evaluate does not match
		}
	}
	return e.resolveMatched(ctx, ws, w, event, now)
}

// resolveMatched ends the wait w with the event that matched it.
func (e *Engine) resolveMatched(ctx context.Context, ws store.Waits, w store.Wait, event any, now time.Time) (resolved, requeued bool, err error) {
	out, err := json.Marshal(WaitOutput{Matched: true, Event: event})
	if err != nil {
		return false, false, err
	}
	return ws.ResolveWait(ctx, w.StepKey, out, now)
}

// runScope rebuilds the expression scope of a run that is not executing:
// its trigger, vars and the results of its finished steps.
func (e *Engine) runScope(ctx context.Context, st *projectState, run store.Run, wf *config.Workflow) (*expr.Scope, error) {
	trig, err := DecodeTrigger(run.Trigger)
	if err != nil {
		return nil, err
	}
	scope := expr.NewScope(expr.RunData{ID: run.ID, Workflow: run.Workflow, Attempt: run.Attempt, SignalURLs: e.signalURLs(run.ID, wf)}, trig.data(), st.project.Secrets)
	scope.SetNow(e.opts.Now())
	if wf.Vars != nil {
		vars, err := wf.Vars.RenderMapContext(ctx, scope)
		if err != nil {
			return nil, err
		}
		scope.SetVars(vars)
	}
	recs, err := e.opts.Store.StepRecords(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Item == store.NoItem && r.Status.Final() {
			scope.SetStep(r.StepID, resultFromRecord(r).data())
		}
	}
	// A match may read steps.<id>.delivery: the receipts recorded so far,
	// including the one that came with the event being offered.
	if err := e.scopeDeliveries(ctx, scope, run.ID, wf, recs); err != nil {
		return nil, err
	}
	return scope, nil
}

// signalURLs returns the acknowledge link of each signal the workflow
// waits on, when the engine can sign them.
func (e *Engine) signalURLs(runID string, wf *config.Workflow) map[string]string {
	if e.opts.SignalURL == nil {
		return nil
	}
	names := wf.Signals()
	if len(names) == 0 {
		return nil
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		out[n] = e.opts.SignalURL(runID, n)
	}
	return out
}

// Signal delivers the signal name with data to a run's wait_for { signal =
// name }: the first pending wait for it is resolved with {"matched": true,
// "signal": name, "data": data}. A run that is not finished and whose
// wait_for on the signal has not started waiting yet keeps the signal, in
// its bounded inbox, for that step to take when it starts (key is then
// empty). It reports whether the run went back to queued, for the caller
// to execute it. A finished run, a run no step of which waits (or will
// wait) for the signal, and a run whose inbox is full are ErrRunState. The
// delivery is logged as done by by. key is the wait the signal ended.
func (e *Engine) Signal(ctx context.Context, id, name string, data json.RawMessage, by string) (key WaitKey, requeued bool, err error) {
	if name == "" {
		return key, false, fmt.Errorf("%w: signal name is empty", store.ErrInvalid)
	}
	if len(data) > 0 && !json.Valid(data) {
		return key, false, fmt.Errorf("%w: signal data is not valid JSON", store.ErrInvalid)
	}
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return key, false, err
	}
	ws, err := e.waits()
	if err != nil {
		return key, false, err
	}
	pending, err := ws.SignalWaits(ctx, id, name)
	if err != nil {
		return key, false, err
	}
	var value any
	if len(data) > 0 {
		if value, err = decodeValue(data); err != nil {
			return key, false, fmt.Errorf("%w: signal data: %v", store.ErrInvalid, err)
		}
		value = e.Masker().Value(value)
	}
	out, err := json.Marshal(WaitOutput{Matched: true, Signal: name, Data: value})
	if err != nil {
		return key, false, err
	}
	now := e.opts.Now().UTC()
	if len(pending) == 0 {
		return e.keepSignal(ctx, ws, run, name, out, by)
	}
	key = pending[0].StepKey
	resolved, requeued, err := ws.ResolveWait(ctx, key, out, now)
	if err != nil {
		return key, false, err
	}
	if !resolved {
		return key, false, fmt.Errorf("run %s: %w; its wait for signal %q ended already", id, ErrRunState, name)
	}
	op := store.Operation{RunID: id, At: now, By: by, Action: OpSignal, Detail: fmt.Sprintf("signal %q to step %s", name, pending[0].StepID)}
	return key, requeued, e.opts.Store.AddOperation(ctx, op)
}

// keepSignal keeps the signal name (its step output out) for the step of
// run that will wait for it, when the run is not finished and such a step
// has not started waiting yet. A step that started waiting meanwhile takes
// it at once, here or when it checks the inbox itself; the store makes sure
// only one does.
func (e *Engine) keepSignal(ctx context.Context, ws store.Waits, run store.Run, name string, out json.RawMessage, by string) (key WaitKey, requeued bool, err error) {
	if run.Status.Final() {
		return key, false, fmt.Errorf("run %s is %s: %w; a finished run takes no signals", run.ID, run.ShownStatus(e.opts.Now()), ErrRunState)
	}
	later, err := e.waitsLater(ctx, ws, run, name)
	if err != nil {
		return key, false, err
	}
	if !later {
		return key, false, fmt.Errorf("run %s: %w; no step of workflow %s waits for signal %q now or later", run.ID, ErrRunState, run.Workflow, name)
	}
	now := e.opts.Now().UTC()
	if err := ws.KeepSignal(ctx, run.ID, name, out, now); err != nil {
		if errors.Is(err, store.ErrInboxFull) {
			return key, false, fmt.Errorf("run %s: %w; %w: it keeps %d signals no step has taken yet", run.ID, ErrRunState, store.ErrInboxFull, store.SignalInboxMax)
		}
		return key, false, err
	}
	detail := fmt.Sprintf("signal %q kept until a step waits for it", name)
	// A step may have started waiting between the lookup and the keep,
	// after it looked at the inbox: it takes the signal now.
	pending, err := ws.SignalWaits(ctx, run.ID, name)
	if err != nil {
		return key, false, err
	}
	if len(pending) > 0 {
		resolved, req, err := ws.TakeSignal(ctx, pending[0].StepKey, name, now)
		if err != nil {
			return key, false, err
		}
		if resolved {
			key, requeued = pending[0].StepKey, req
			detail = fmt.Sprintf("signal %q to step %s", name, key.StepID)
		}
	}
	op := store.Operation{RunID: run.ID, At: now, By: by, Action: OpSignal, Detail: detail}
	return key, requeued, e.opts.Store.AddOperation(ctx, op)
}

// waitsLater reports whether a wait_for step of run's workflow waits for
// signal and has not started waiting yet, so a signal kept now is taken.
func (e *Engine) waitsLater(ctx context.Context, ws store.Waits, run store.Run, signal string) (bool, error) {
	wf, ok := e.state.Load().project.Workflows[run.Workflow]
	if !ok {
		return false, nil
	}
	for _, s := range wf.Steps {
		if s.WaitFor == nil || s.WaitFor.Signal != signal {
			continue
		}
		_, err := ws.GetWait(ctx, store.StepKey{RunID: run.ID, StepID: s.ID, Item: store.NoItem})
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// matchKey renders one side of an event correlation: the field path and
// the value, numbers as float64 so that 1 and 1.0 agree.
func matchKey(path []string, v any) string {
	switch n := v.(type) {
	case int64:
		v = float64(n)
	case int:
		v = float64(n)
	case uint64:
		v = float64(n)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.Join(path, ".") + "=" + string(b)
}

// eventKeys returns the match keys an event can meet: one per correlation
// path of the wait_for steps waiting for its type (read from the event's
// data), and "" for the waits without one.
func eventKeys(p *config.Project, instance, eventType string, data any) []string {
	paths, _ := p.EventKeyPaths(instance, eventType)
	keys := []string{""}
	for _, path := range paths {
		if v, ok := lookupPath(data, path); ok {
			keys = append(keys, matchKey(path, v))
		}
	}
	return keys
}

// lookupPath reads data.a.b for path [a b].
func lookupPath(data any, path []string) (any, bool) {
	for _, f := range path {
		m, ok := data.(map[string]any)
		if !ok {
			return nil, false
		}
		if data, ok = m[f]; !ok {
			return nil, false
		}
	}
	return data, true
}

// Executing returns a channel that is closed when this engine's execution
// of run id ends, or nil when it executes none. A run resumed the moment
// after it parked may still be ending its execution here: the caller
// hands it over again once that is done.
func (e *Engine) Executing(id string) <-chan struct{} {
	if v, ok := e.executing.Load(id); ok {
		return v.(*liveRun).done
	}
	return nil
}
