package expr

import (
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
	steps   map[string]any
	secrets map[string]string
	run     map[string]any
	now     ref.Val
	item    any
	index   ref.Val
	loop    bool
	event   any
	hasEv   bool
}

var _ interpreter.Activation = (*Scope)(nil)

// NewScope returns a Scope for one run with now set to the current time.
// secrets maps secret names to values, as Project.Secrets holds them.
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
	s := &Scope{
		trigger: t,
		vars:    map[string]any{},
		steps:   map[string]any{},
		secrets: secrets,
		run: map[string]any{
			"id":         run.ID,
			"workflow":   run.Workflow,
			"attempt":    int64(run.Attempt),
			"signal_url": stringMap(run.SignalURLs),
		},
	}
	s.SetNow(time.Now())
	return s
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

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SetVars sets vars, normally the result of rendering the workflow's Vars.
func (s *Scope) SetVars(vars map[string]any) {
	if vars == nil {
		vars = map[string]any{}
	}
	s.vars = vars
}

// SetStep records a finished step under steps.<id>.
func (s *Scope) SetStep(id string, d StepData) {
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
	s.now = types.Timestamp{Time: t.UTC()}
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
		return s.steps, true
	case "secrets":
		return s.secrets, true
	case "run":
		return s.run, true
	case "now":
		return s.now, true
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
