package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/sdk"
)

// steps decodes a workflow's steps in order; each may read the results of
// the steps before it.
func (l *loader) steps(w *Workflow, list *node) {
	var all []string
	firstAt := map[string]Range{}
	for _, n := range list.items {
		if id, at, ok := stepIDOf(n); ok {
			if first, dup := firstAt[id]; dup {
				l.rep.errorf(at, "duplicate step id %q in workflow %q; the first is at %s", id, w.Name, first)
				continue
			}
			firstAt[id] = at
			all = append(all, id)
		}
	}
	var earlier []string
	for _, n := range list.items {
		s := l.step(w, n, earlier, all)
		if s == nil {
			continue
		}
		w.Steps = append(w.Steps, s)
		if !slices.Contains(earlier, s.ID) {
			earlier = append(earlier, s.ID)
		}
	}
}

func stepIDOf(n *node) (string, Range, bool) {
	if n.kind != objectNode {
		return "", Range{}, false
	}
	e := n.entry("id")
	if e == nil {
		return "", Range{}, false
	}
	id, ok := e.val.scalar.(string)
	return id, e.val.rng, ok && id != ""
}

func (l *loader) step(w *Workflow, n *node, earlier, all []string) *Step {
	o := newObject(&l.rep, n, fmt.Sprintf("a step of workflow %q", w.Name),
		"id", "uses", "if", "with", "override", "retry", "timeout", "for_each", "parallelism", "continue_on_error", "on_in_doubt", "fallback",
		"wait", "wait_for", "window")
	if o == nil {
		return nil
	}
	defer o.done()
	id, idEntry, ok := o.required("id")
	if !ok {
		return nil
	}
	if !stepID.MatchString(id) {
		l.rep.errorf(idEntry.val.rng, "invalid step id %q: use a letter or _ followed by letters, digits, _ or -", id)
		return nil
	}
	what := fmt.Sprintf("step %q of workflow %q", id, w.Name)
	o.what = what
	s := &Step{
		ID:    id,
		Range: n.rng,
		Retry: Retry{
			MaxAttempts:     1,
			InitialInterval: DefaultInitialInterval,
			MaxInterval:     DefaultMaxInterval,
			Multiplier:      DefaultMultiplier,
		},
		Timeout:     DefaultTimeout,
		Parallelism: DefaultParallelism,
	}
	ctx := expr.Context{
		Names:    expr.Runtime | expr.Steps,
		Vars:     w.VarNames,
		Steps:    slices.Clone(earlier),
		AllSteps: all,
	}

	if src, e, ok := o.str("if"); ok {
		c := ctx
		c.Where = fmt.Sprintf("the if of step %q", id)
		s.If = l.condition(src, e, c, "if")
	}
	if l.waitStep(s, o, ctx) {
		o.boolean("continue_on_error", &s.ContinueOnError)
		return s
	}
	var action *sdk.Action
	var provider *Provider
	if uses, e, ok := o.required("uses"); ok {
		s.Uses = uses
		s.Provider, s.Action, provider, action = l.uses(uses, e.val.rng, what)
	}
	if e := o.get("for_each"); e != nil {
		c := ctx
		c.Where = fmt.Sprintf("the for_each of step %q", id)
		v, errs := l.comp.List(e.val.plain(&l.rep), c)
		if errs != nil {
			l.exprErrors(errs, e.val, "for_each")
		} else {
			s.ForEach = v
			for _, ref := range v.SecretRefs() {
				l.secret(ref.Name, valueAt(e.val, ref.Path))
			}
		}
	}
	if e := o.integer("parallelism", 1, &s.Parallelism); e != nil && o.get("for_each") == nil {
		l.rep.errorf(e.keyRng, "parallelism in %s needs for_each", what)
	}
	if s.ForEach != nil || o.get("for_each") != nil {
		ctx.Names |= expr.Item
	}

	l.window(s, o, ctx)
	ctx.Where = fmt.Sprintf("the with of step %q", id)
	s.With = l.input(o.get("with"), n.rng, s.Uses, action, ctx)
	ctx.Where = fmt.Sprintf("the override of step %q", id)
	s.Override = l.override(o.get("override"), provider, ctx, what)
	if e := o.get("retry"); e != nil {
		l.retry(&s.Retry, e.val, what)
	}
	o.duration("timeout", &s.Timeout)
	o.boolean("continue_on_error", &s.ContinueOnError)
	var reconcilers []usedAction
	if action != nil {
		reconcilers = append(reconcilers, usedAction{s.Uses, action})
	}

	if e := o.get("fallback"); e != nil {
		items := []*node{e.val}
		if e.val.kind == listNode {
			items = e.val.items
		}
		// A fallback may read steps.<this step> for the failure it handles.
		fctx := ctx
		fctx.Steps = append(slices.Clone(earlier), id)
		for i, fn := range items {
			if f, fa := l.fallback(fn, fctx, fmt.Sprintf("fallback %d of %s", i+1, what)); f != nil {
				s.Fallback = append(s.Fallback, f)
				if fa != nil {
					reconcilers = append(reconcilers, usedAction{f.Uses, fa})
				}
			}
		}
	}
	l.onInDoubt(s, o, reconcilers, what)
	return s
}

// onInDoubt reads a step's on_in_doubt. Where the plugins' describes are
// known, "reconcile" on an action (the step's or a fallback's) without a
// reconcile handler is an error at the attribute.
func (l *loader) onInDoubt(s *Step, o *object, actions []usedAction, what string) {
	policy := ""
	o.oneOf("on_in_doubt", OnInDoubtPolicies, &policy)
	s.OnInDoubt = OnInDoubt(policy)
	e := o.get("on_in_doubt")
	if e == nil || s.OnInDoubt != OnInDoubtReconcile {
		return
	}
	s.OnInDoubtRange = e.val.rng
	for _, a := range actions {
		if !a.action.CanReconcile() {
			l.rep.errorf(e.val.rng, "on_in_doubt = \"reconcile\" in %s: %s has no reconcile handler; use \"stop\" (wait for an operator) or \"retry\" (accept a duplicate)", what, a.uses)
		}
	}
}

// usedAction is an action a step may call, with the uses that names it.
type usedAction struct {
	uses   string
	action *sdk.Action
}

// uses resolves <instance>.<action> to the provider and, when its plugin's
// spec is known, the action.
func (l *loader) uses(uses string, at Range, what string) (instance, actionName string, p *Provider, action *sdk.Action) {
	instance, actionName, found := strings.Cut(uses, ".")
	if !found || instance == "" || actionName == "" {
		l.rep.errorf(at, "uses in %s must be <provider instance>.<action>, such as chatapi.send_message, not %q", what, uses)
		return "", "", nil, nil
	}
	p, ok := l.project.Providers[instance]
	if !ok {
		l.rep.errorf(at, "unknown provider instance %q in uses of %s%s", instance, what, listing("declared", l.instanceNames()))
		return instance, actionName, nil, nil
	}
	if p.Spec == nil {
		return instance, actionName, p, nil
	}
	action, ok = p.Spec.Action(actionName)
	if !ok {
		var names []string
		for _, a := range p.Spec.Actions {
			names = append(names, a.Name)
		}
		l.rep.errorf(at, "provider %q (type %s) has no action %q%s", instance, p.Type, actionName, listing("actions", names))
		return instance, actionName, p, nil
	}
	return instance, actionName, p, action
}

// input compiles a with and checks it against the action's input schema.
// Strings holding templates count as present but are not type-checked.
func (l *loader) input(e *entry, stepAt Range, uses string, action *sdk.Action, ctx expr.Context) *expr.Value {
	if e == nil {
		if action != nil {
			for _, fe := range action.Input.Validate(map[string]any{}, sdk.ValidateOptions{}) {
				l.rep.errorf(stepAt, "%s: %s", inputLabel(uses, fe.Path), fe.Message)
			}
		}
		return nil
	}
	if e.val.kind == scalarNode {
		if s, ok := e.val.scalar.(string); ok && expr.HasTemplate(s) {
			// The whole input is one template; it is checked at run time.
			return l.value(s, e.val, ctx, "with")
		}
	}
	if e.val.kind != objectNode {
		l.rep.errorf(e.val.rng, "with must be an object, not %s", e.val.kindName())
		return nil
	}
	src := e.val.plain(&l.rep).(map[string]any)
	v := l.value(src, e.val, ctx, "with")
	if action != nil {
		for _, fe := range action.Input.Validate(src, sdk.ValidateOptions{Dynamic: isDynamic}) {
			l.rep.errorf(keyOrValue(e, fe.Path), "%s: %s", inputLabel(uses, fe.Path), fe.Message)
		}
	}
	return v
}

func inputLabel(uses, path string) string {
	if path == "" {
		return fmt.Sprintf("with of %s", uses)
	}
	return fmt.Sprintf("with.%s of %s", path, uses)
}

// override compiles a step's override: config checked against the
// provider's config schema (every field optional), body free-form.
func (l *loader) override(e *entry, p *Provider, ctx expr.Context, what string) Override {
	var out Override
	if e == nil {
		return out
	}
	o := newObject(&l.rep, e.val, "the override of "+what, "config", "body")
	if o == nil {
		return out
	}
	defer o.done()
	for _, key := range []string{"config", "body"} {
		ce := o.get(key)
		if ce == nil {
			continue
		}
		if ce.val.kind != objectNode {
			l.rep.errorf(ce.val.rng, "override.%s in %s must be an object, not %s", key, what, ce.val.kindName())
			continue
		}
		src := ce.val.plain(&l.rep).(map[string]any)
		v := l.value(src, ce.val, ctx, "override."+key)
		if key == "body" {
			out.Body = v
			continue
		}
		out.Config = v
		if p != nil && p.Spec != nil {
			schema := optional(p.Spec.Config)
			for _, fe := range schema.Validate(src, sdk.ValidateOptions{Dynamic: isDynamic}) {
				l.rep.errorf(keyOrValue(ce, fe.Path), "override.config of %s: %s", what, fe.Error())
			}
		}
	}
	return out
}

// optional returns the schema with no field required, for overrides, which
// change only some fields of a complete configuration.
func optional(s sdk.Schema) sdk.Schema {
	s.ExactlyOneOf = nil
	s.Fields = optionalFields(s.Fields)
	return s
}

func optionalFields(fields []sdk.Field) []sdk.Field {
	if fields == nil {
		return nil
	}
	out := make([]sdk.Field, len(fields))
	for i, f := range fields {
		f.Required = false
		f.Fields = optionalFields(f.Fields)
		out[i] = f
	}
	return out
}

func (l *loader) retry(r *Retry, n *node, what string) {
	o := newObject(&l.rep, n, "the retry of "+what, "max_attempts", "initial_interval", "max_interval", "multiplier")
	if o == nil {
		return
	}
	defer o.done()
	r.MaxAttempts = DefaultRetryAttempts
	o.integer("max_attempts", 1, &r.MaxAttempts)
	o.duration("initial_interval", &r.InitialInterval)
	if e := o.duration("max_interval", &r.MaxInterval); e != nil && r.MaxInterval < r.InitialInterval {
		l.rep.errorf(e.val.rng, "max_interval in %s must not be shorter than initial_interval (%s)", o.what, r.InitialInterval)
	}
	o.number("multiplier", 1, &r.Multiplier)
}

// fallback decodes one fallback and returns it with its action, when the
// plugin's spec is known.
func (l *loader) fallback(n *node, ctx expr.Context, what string) (*Fallback, *sdk.Action) {
	o := newObject(&l.rep, n, what, "uses", "with", "override")
	if o == nil {
		return nil, nil
	}
	defer o.done()
	f := &Fallback{Range: n.rng}
	var action *sdk.Action
	var provider *Provider
	if uses, e, ok := o.required("uses"); ok {
		f.Uses = uses
		f.Provider, f.Action, provider, action = l.uses(uses, e.val.rng, what)
	}
	f.With = l.input(o.get("with"), n.rng, f.Uses, action, ctx)
	f.Override = l.override(o.get("override"), provider, ctx, what)
	return f, action
}
