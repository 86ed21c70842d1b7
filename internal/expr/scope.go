package expr

import (
	"sync"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// TriggerData describes what started a run; it becomes trigger in
// expressions.
type TriggerData struct {
	// Kind is cron, webhook, event or manual.
	Kind string
	// Time is when the run was triggered.
	Time time.Time
	// ScheduledTime is the cron fire time; zero (null in expressions) for
	// other kinds.
	ScheduledTime time.Time
	// Body is the webhook or manual input, decoded from JSON.
	Body any
	// Headers and Query are the webhook request's headers (names in lower
	// case, repeated values joined with ", ") and query parameters.
	Headers map[string]string
	Query   map[string]string
	// Event is the provider event's data for event triggers.
	Event any
}

// RunData identifies the run; it becomes run in expressions.
type RunData struct {
	ID       string
	Workflow string
	// Attempt counts how often the run has been started (1 on the first).
	Attempt int
	// SignalURLs maps each signal a wait_for of the workflow waits on to
	// its signed acknowledge link; it becomes run.signal_url.
	SignalURLs map[string]string
}

// StepData is what a finished step left behind; it becomes steps.<id>.
type StepData struct {
	// Output is the action's output (for a for_each step, the list of item
	// outputs in input order).
	Output any
	// Status is succeeded, failed or skipped.
	Status string
	// Error is the final error message, empty when the step succeeded.
	Error string
	// Attempts is how many attempts were made.
	Attempts int
	// Provider is the provider instance that produced the output (the
	// fallback's when a fallback succeeded).
	Provider string
	// Delivery is the step's latest delivery receipt, {"status", "at",
	// "event"}, or nil before one; for a for_each step, the list of its
	// items' receipts (nil for an item without one).
	Delivery any
}

// Scope holds the values expressions read during one run. The engine builds
// one with NewScope, adds vars with SetVars and each finished step with
// SetStep, and derives a per-element Scope with WithItem for for_each steps.
//
// Values given to a Scope must be plain Go values as encoding/json decodes
// them (string, bool, float64 or int64, []any, map[string]any, nil).
//
// Render and Eval may run concurrently on a Scope and on Scopes derived from
// it, but SetVars, SetStep and SetNow must not run concurrently with them.
type Scope struct {
	trigger map[string]any
	vars    map[string]any
	// steps is nil until SetStep records the first step.
	steps   map[string]any
	secrets map[string]string
	// lazy holds run, made from runData when an expression first reads
	// it; Scopes derived from this one share it.
	lazy    *lazyRun
	runData RunData
	// now is boxed into a timestamp only when an expression reads it.
	now   time.Time
	item  any
	index ref.Val
	loop  bool
	event any
	hasEv bool
}

// lazyRun is the run variable, made once.
type lazyRun struct {
	once sync.Once
	run  map[string]any
}

// newScope is one allocation for a Scope and its lazyRun.
type newScope struct {
	s    Scope
	lazy lazyRun
}

// emptyMap is what an absent map reads as. It is shared: nothing may write
// to it.
var emptyMap = map[string]any{}

var _ interpreter.Activation = (*Scope)(nil)

// NewScope returns a Scope for one run with now set to the current time.
// secrets maps secret names to values, as Project.Secrets holds them.
// What an expression does not read costs nothing: run is made when it is
// first read, and now is boxed for CEL each time it is read.
func NewScope(run RunData, trigger TriggerData, secrets map[string]string) *Scope {
	t := map[string]any{
		"kind":           trigger.Kind,
		"time":           timeOrNull(trigger.Time),
		"scheduled_time": timeOrNull(trigger.ScheduledTime),
		"body":           trigger.Body,
		"headers":        stringMap(trigger.Headers),
		"query":          stringMap(trigger.Query),
		"event":          trigger.Event,
	}
	if secrets == nil {
		secrets = map[string]string{}
	}
	n := &newScope{s: Scope{
		trigger: t,
		vars:    emptyMap,
		secrets: secrets,
		runData: run,
		now:     time.Now(),
	}}
	n.s.lazy = &n.lazy
	return &n.s
}

// SecretScope returns a Scope holding only secrets, for provider config and
// webhook secrets, which are rendered when a project loads.
func SecretScope(secrets map[string]string) *Scope {
	return NewScope(RunData{}, TriggerData{}, secrets)
}

func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// stringMap is m as an expression reads it: CEL reads a map of strings as
// it reads the same map of values, so m is not copied; an absent or empty
// m is emptyMap.
func stringMap(m map[string]string) any {
	if len(m) == 0 {
		return emptyMap
	}
	return m
}

// runMap returns run, made on first use.
func (s *Scope) runMap() map[string]any {
	s.lazy.once.Do(func() {
		s.lazy.run = map[string]any{
			"id":         s.runData.ID,
			"workflow":   s.runData.Workflow,
			"attempt":    int64(s.runData.Attempt),
			"signal_url": stringMap(s.runData.SignalURLs),
		}
	})
	return s.lazy.run
}

// SetVars sets vars, normally the result of rendering the workflow's Vars.
func (s *Scope) SetVars(vars map[string]any) {
	if vars == nil {
		vars = emptyMap
	}
	s.vars = vars
}

// SetStep records a finished step under steps.<id>.
func (s *Scope) SetStep(id string, d StepData) {
	if s.steps == nil {
		s.steps = map[string]any{}
	}
	s.steps[id] = map[string]any{
		"output":   d.Output,
		"status":   d.Status,
		"error":    d.Error,
		"attempts": int64(d.Attempts),
		"provider": d.Provider,
		"delivery": d.Delivery,
	}
}

// SetNow sets the value of now.
func (s *Scope) SetNow(t time.Time) {
	s.now = t
}

// WithItem returns a Scope for one element of a for_each step, sharing
// everything else with s.
func (s *Scope) WithItem(item any, index int) *Scope {
	c := *s
	c.item = item
	c.index = types.Int(index)
	c.loop = true
	return &c
}

// WithEvent returns a Scope in which event reads ev, the provider event a
// wait_for's match tests, sharing everything else with s.
func (s *Scope) WithEvent(ev any) *Scope {
	c := *s
	c.event = ev
	c.hasEv = true
	return &c
}

// ResolveName implements interpreter.Activation; it is not meant to be
// called by the engine.
func (s *Scope) ResolveName(name string) (any, bool) {
	switch name {
	case "trigger":
		return s.trigger, true
	case "vars":
		return s.vars, true
	case "steps":
		if s.steps == nil {
			return emptyMap, true
		}
		return s.steps, true
	case "secrets":
		return s.secrets, true
	case "run":
		return s.runMap(), true
	case "now":
		return types.Timestamp{Time: s.now.UTC()}, true
	case "item":
		return s.item, s.loop
	case "index":
		return s.index, s.loop
	case "event":
		return s.event, s.hasEv
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (s *Scope) Parent() interpreter.Activation { return nil }
