package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/expr"
)

// Wait parks a run until a time: Duration after the step starts, or the
// timestamp Until renders to. Exactly one of them is set.
type Wait struct {
	Duration time.Duration `json:"duration,omitempty"`
	// DurationTemplate is set instead of Duration when the duration is a
	// template, such as "{{ vars.pause }}": it is rendered when the step
	// starts and must yield a positive duration.
	DurationTemplate *expr.Value `json:"-"`
	// Until is a template that renders to a timestamp (or an RFC 3339
	// string); a time in the past ends the wait at once.
	Until *expr.Value `json:"until,omitempty"`
}

// WaitFor parks a run until a provider event that Match accepts arrives, a
// signal is delivered, or Timeout passes, whichever comes first. Event and
// Signal may both be set.
type WaitFor struct {
	// Event is the provider event waited for, such as chatapi.ack; Provider
	// is the instance that must emit it.
	Event    string `json:"event,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Match tests a candidate event (event in its scope, besides trigger,
	// vars, steps, run and now); nil accepts every event of the type.
	Match *expr.Condition `json:"match,omitempty"`
	// KeyPath and KeyValue are the correlation the match holds, when it
	// has one: event.<KeyPath> == <KeyValue> (see expr.Compiler.EventKey).
	// A waiting run stores KeyValue's value, so an event is offered only to
	// the runs whose value its field equals.
	KeyPath  []string    `json:"-"`
	KeyValue *expr.Value `json:"-"`
	// KeyExact is set when the match is nothing but that correlation:
	// equal keys then prove the match without evaluating it.
	KeyExact bool `json:"-"`
	// Signal is the name of the signal waited for.
	Signal string `json:"signal,omitempty"`
	// Timeout bounds the wait; it is required.
	Timeout time.Duration `json:"timeout"`
	// TimeoutTemplate is set instead of Timeout when the timeout is a
	// template, such as "{{ vars.ack_timeout }}": it is rendered when the
	// step starts and must yield a positive duration.
	TimeoutTemplate *expr.Value `json:"-"`
}

// Signals returns the names of the signals the workflow's wait_for steps
// wait on, in step order, each once.
func (w *Workflow) Signals() []string {
	var out []string
	for _, s := range w.Steps {
		if s.WaitFor != nil && s.WaitFor.Signal != "" && !slices.Contains(out, s.WaitFor.Signal) {
			out = append(out, s.WaitFor.Signal)
		}
	}
	return out
}

// stepCallKeys are the keys of a step that calls an action, which a wait or
// wait_for step does not take.
var stepCallKeys = []string{"with", "override", "retry", "timeout", "for_each", "parallelism", "fallback", "window"}

// waitStep reads the wait or wait_for block of step s, which has no uses.
// It reports whether the step is a wait step at all.
func (l *loader) waitStep(s *Step, o *object, ctx expr.Context) bool {
	w, wf := o.get("wait"), o.get("wait_for")
	if w == nil && wf == nil {
		return false
	}
	if w != nil && wf != nil {
		l.rep.errorf(wf.keyRng, "%s has both wait and wait_for; a step waits for one of them", o.what)
	}
	if e := o.get("uses"); e != nil {
		l.rep.errorf(e.keyRng, "%s has uses and a wait; a wait step calls no action", o.what)
	}
	for _, k := range stepCallKeys {
		if e := o.get(k); e != nil {
			l.rep.errorf(e.keyRng, "%s in %s: a wait step calls no action, so it takes no %s", k, o.what, k)
		}
	}
	if w != nil {
		s.Wait = l.wait(w.val, ctx, "the wait of "+o.what)
	} else {
		s.WaitFor = l.waitFor(wf.val, ctx, "the wait_for of "+o.what)
	}
	return true
}

func (l *loader) wait(n *node, ctx expr.Context, what string) *Wait {
	o := newObject(&l.rep, n, what, "duration", "until")
	if o == nil {
		return nil
	}
	defer o.done()
	w := &Wait{}
	var dur *entry
	dur, w.DurationTemplate = l.durationOrTemplate(o, "duration", ctx, &w.Duration)
	if e := o.get("until"); e != nil {
		if dur != nil {
			l.rep.errorf(e.keyRng, "%s has both duration and until; give one", what)
			return w
		}
		ctx.Where = what
		v, errs := l.comp.Value(e.val.plain(&l.rep), ctx)
		if errs != nil {
			l.exprErrors(errs, e.val, "until")
			return w
		}
		if static, ok := v.Static(); ok {
			if _, isString := static.(string); !isString {
				l.rep.errorf(e.val.rng, "until in %s must be a timestamp template such as \"{{ now + duration('1h') }}\"", what)
				return w
			}
		}
		for _, ref := range v.SecretRefs() {
			l.secret(ref.Name, valueAt(e.val, ref.Path))
		}
		w.Until = v
		return w
	}
	if dur == nil {
		l.rep.errorf(n.rng, "%s needs duration or until", what)
	}
	return w
}

func (l *loader) waitFor(n *node, ctx expr.Context, what string) *WaitFor {
	o := newObject(&l.rep, n, what, "event", "provider", "match", "signal", "timeout")
	if o == nil {
		return nil
	}
	defer o.done()
	w := &WaitFor{}
	hasEvent := o.get("event") != nil
	if hasEvent {
		w.Event, w.Provider = l.providerEvent(o)
	} else if e := o.get("provider"); e != nil {
		l.rep.errorf(e.keyRng, "provider in %s needs event", what)
	}
	if src, e, ok := o.str("match"); ok {
		if !hasEvent {
			l.rep.errorf(e.keyRng, "match in %s needs event: it tests the events waited for", what)
		} else {
			ctx.Names |= expr.Event
			ctx.Where = "the match of " + what
			w.Match = l.condition(src, e, ctx, "match")
			if path, other, ok := l.comp.EventKey(src); ok && w.Match != nil {
				kctx := ctx
				kctx.Names &^= expr.Event
				if v, errs := l.comp.Value("{{ "+other+" }}", kctx); errs == nil {
					w.KeyPath, w.KeyValue = path, v
					_, _, w.KeyExact = l.comp.ExactEventKey(src)
				}
			}
		}
	}
	if name, e, ok := o.str("signal"); ok {
		if !stepID.MatchString(name) {
			l.rep.errorf(e.val.rng, "invalid signal name %q in %s: use a letter or _ followed by letters, digits, _ or -", name, what)
		} else {
			w.Signal = name
		}
	}
	if !hasEvent && o.get("signal") == nil {
		l.rep.errorf(n.rng, "%s needs event or signal (or both)", what)
	}
	var timeout *entry
	if timeout, w.TimeoutTemplate = l.durationOrTemplate(o, "timeout", ctx, &w.Timeout); timeout == nil {
		l.rep.errorf(n.rng, "%s is missing timeout: a wait_for must end, as in timeout = %q", what, "30m")
	}
	return w
}

// durationOrTemplate reads an optional duration that may be a template:
// "10m" is checked now and stored in out, "{{ vars.pause }}" is compiled
// and returned, for the engine to render when the step starts.
func (l *loader) durationOrTemplate(o *object, key string, ctx expr.Context, out *time.Duration) (*entry, *expr.Value) {
	s, e, ok := o.str(key)
	if !ok || !expr.HasTemplate(s) {
		return o.duration(key, out), nil
	}
	ctx.Where = key + " in " + o.what
	v, errs := l.comp.Value(s, ctx)
	if errs != nil {
		l.exprErrors(errs, e.val, key)
		return e, nil
	}
	for _, ref := range v.SecretRefs() {
		l.secret(ref.Name, valueAt(e.val, ref.Path))
	}
	return e, v
}

// String describes what the wait_for waits for, for run reasons and logs.
func (w *WaitFor) String() string {
	var s string
	if w.Event != "" {
		s = fmt.Sprintf("event %s from %s", w.Event, w.Provider)
	}
	if w.Signal != "" {
		if s != "" {
			s += " or "
		}
		s += fmt.Sprintf("signal %q", w.Signal)
	}
	return s
}

// MarshalJSON writes the duration as text, such as "10m0s", or its
// template as written.
func (w *Wait) MarshalJSON() ([]byte, error) {
	type plain Wait
	return json.Marshal(struct {
		*plain
		Duration string `json:"duration,omitempty"`
	}{(*plain)(w), durationText(w.Duration, w.DurationTemplate)})
}

// MarshalJSON writes the timeout as text, such as "5m0s", or its template
// as written.
func (w *WaitFor) MarshalJSON() ([]byte, error) {
	type plain WaitFor
	return json.Marshal(struct {
		*plain
		Timeout string `json:"timeout"`
	}{(*plain)(w), durationText(w.Timeout, w.TimeoutTemplate)})
}

// DurationText is the wait's duration as written: "10m0s", or its template.
func (w *Wait) DurationText() string { return durationText(w.Duration, w.DurationTemplate) }

// TimeoutText is the wait_for's timeout as written: "5m0s", or its template.
func (w *WaitFor) TimeoutText() string { return durationText(w.Timeout, w.TimeoutTemplate) }

func durationText(d time.Duration, tmpl *expr.Value) string {
	if src, ok := tmpl.Source().(string); ok {
		return src
	}
	if d == 0 {
		return ""
	}
	return d.String()
}

// WaitsForEvent reports whether a wait_for of some workflow waits for event
// from instance, so an arriving event is worth offering to waiting runs and
// keeping in their inbox.
func (p *Project) WaitsForEvent(instance, event string) bool {
	for _, w := range p.Workflows {
		for _, s := range w.Steps {
			if s.WaitFor != nil && s.WaitFor.Event == event && s.WaitFor.Provider == instance {
				return true
			}
		}
	}
	return false
}

// ExactWaitStep reports whether every wait_for step named stepID that
// waits for event from instance, in any workflow, has a match that is
// nothing but its correlation (KeyExact), and there is at least one: a
// keyed wait of such a step is proven by its key alone, whichever workflow
// its run belongs to.
func (p *Project) ExactWaitStep(instance, event, stepID string) bool {
	found := false
	for _, w := range p.Workflows {
		s, ok := w.Step(stepID)
		if !ok || s.WaitFor == nil || s.WaitFor.Event != event || s.WaitFor.Provider != instance {
			continue
		}
		if !s.WaitFor.KeyExact {
			return false
		}
		found = true
	}
	return found
}

// EventKeyPaths returns the distinct correlation paths of the wait_for steps
// that wait for event from instance (see WaitFor.KeyPath), and whether some
// such step has none (its waits take every event of the type).
func (p *Project) EventKeyPaths(instance, event string) (paths [][]string, unkeyed bool) {
	seen := map[string]bool{}
	for _, w := range p.Workflows {
		for _, s := range w.Steps {
			wf := s.WaitFor
			if wf == nil || wf.Event != event || wf.Provider != instance {
				continue
			}
			if wf.KeyPath == nil {
				unkeyed = true
				continue
			}
			k := strings.Join(wf.KeyPath, ".")
			if !seen[k] {
				seen[k] = true
				paths = append(paths, wf.KeyPath)
			}
		}
	}
	return paths, unkeyed
}
