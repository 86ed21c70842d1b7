package expr

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// Names is a set of the top-level variables an expression may read.
type Names uint8

// The top-level variables of the expression language.
const (
	// Trigger is trigger: kind, time, scheduled_time, body, headers, query
	// and event.
	Trigger Names = 1 << iota
	// Vars is vars, the workflow's variables.
	Vars
	// Steps is steps.<id>: output, status, error, attempts, provider and
	// delivery.
	Steps
	// Secrets is secrets.<NAME>.
	Secrets
	// Run is run: id, workflow and attempt.
	Run
	// Now is now, the current time as a timestamp.
	Now
	// Item is item and index, the current element of a for_each step.
	Item
	// Event is event, the provider event a wait_for's match tests.
	Event
)

// Runtime is every variable but steps and item: what a workflow's when
// condition may read.
const Runtime = Trigger | Vars | Secrets | Run | Now

// triggerFields, stepFields and runFields are the fields of trigger,
// steps.<id> and run.
var (
	triggerFields = []string{"kind", "time", "scheduled_time", "body", "headers", "query", "event"}
	stepFields    = []string{"output", "status", "error", "attempts", "provider", "delivery"}
	runFields     = []string{"id", "workflow", "attempt", "signal_url"}
)

var names = []struct {
	bit  Names
	name string
}{
	{Trigger, "trigger"}, {Vars, "vars"}, {Steps, "steps"}, {Secrets, "secrets"},
	{Run, "run"}, {Now, "now"}, {Item, "item"}, {Item, "index"}, {Event, "event"},
}

func nameBit(name string) (Names, bool) {
	for _, n := range names {
		if n.name == name {
			return n.bit, true
		}
	}
	return 0, false
}

// Context says where an expression stands and so what it may read. Compiling
// against a Context turns every reference it does not allow into an error.
type Context struct {
	// Where names the position in messages, such as "provider config" or
	// "the with of step \"notify\"".
	Where string
	// Names are the top-level variables in scope.
	Names Names
	// Vars are the workflow's declared variable names; vars.X for any other
	// X is an error.
	Vars []string
	// Steps are the ids of the steps whose results exist at this point (the
	// earlier steps of the workflow); steps.X for any other X is an error.
	Steps []string
	// AllSteps are the ids of every step of the workflow, so that a reference
	// to a later step reads differently from one to an unknown step.
	AllSteps []string
}

// reference is one read of a top-level variable, with the constant names
// selected from it.
type reference struct {
	root string
	// name is the first selected field or constant index (steps.<name>,
	// vars.<name>, secrets.<name>, trigger.<name>, run.<name>); empty when
	// the variable is used whole.
	name string
	// field is the second selected name, kept for steps.<id>.<field>.
	field string
	// dynamic is set when the variable is indexed by a computed key.
	dynamic bool
}

// collectReferences lists the top-level variables that e reads, skipping
// comprehension variables.
func collectReferences(e ast.Expr) []reference {
	w := &walker{}
	w.walk(e)
	return w.refs
}

type walker struct {
	locals []string
	refs   []reference
}

func (w *walker) isLocal(name string) bool {
	return slices.Contains(w.locals, name)
}

func (w *walker) walk(e ast.Expr) {
	if e == nil {
		return
	}
	switch e.Kind() {
	case ast.IdentKind:
		if name := e.AsIdent(); !w.isLocal(name) {
			w.refs = append(w.refs, reference{root: name})
		}
	case ast.SelectKind, ast.CallKind:
		if w.path(e) {
			return
		}
		if e.Kind() == ast.SelectKind {
			w.walk(e.AsSelect().Operand())
			return
		}
		call := e.AsCall()
		if call.IsMemberFunction() {
			w.walk(call.Target())
		}
		for _, a := range call.Args() {
			w.walk(a)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		w.walk(c.IterRange())
		w.walk(c.AccuInit())
		n := len(w.locals)
		w.locals = append(w.locals, c.AccuVar())
		w.locals = append(w.locals, c.IterVar())
		if c.HasIterVar2() {
			w.locals = append(w.locals, c.IterVar2())
		}
		w.walk(c.LoopCondition())
		w.walk(c.LoopStep())
		w.locals = w.locals[:n+1]
		w.walk(c.Result())
		w.locals = w.locals[:n]
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			w.walk(el)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			w.walk(en.AsMapEntry().Key())
			w.walk(en.AsMapEntry().Value())
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			w.walk(f.AsStructField().Value())
		}
	}
}

// segment is one step of a selection path: a field name, a constant index or
// a computed index.
type segment struct {
	name     string
	constant bool
}

// selection splits e into its operand and the key it selects when e is a
// field selection (a.b, a.?b, has(a.b)) or an index (a["b"], a[?"b"]).
func selection(e ast.Expr) (operand ast.Expr, key ast.Expr, seg segment, ok bool) {
	switch e.Kind() {
	case ast.SelectKind:
		s := e.AsSelect()
		return s.Operand(), nil, segment{name: s.FieldName(), constant: true}, true
	case ast.CallKind:
		c := e.AsCall()
		switch c.FunctionName() {
		case "_[_]", "_[?_]", "_?._":
			if c.IsMemberFunction() || len(c.Args()) != 2 {
				return nil, nil, segment{}, false
			}
			key := c.Args()[1]
			if key.Kind() == ast.LiteralKind {
				if s, isString := key.AsLiteral().(types.String); isString {
					return c.Args()[0], nil, segment{name: string(s), constant: true}, true
				}
			}
			return c.Args()[0], key, segment{}, true
		}
	}
	return nil, nil, segment{}, false
}

// path records a reference for a selection chain rooted at a top-level
// variable, such as steps.notify.output.id. It walks computed indexes and a
// non-variable operand itself, and reports whether e was a selection.
func (w *walker) path(e ast.Expr) bool {
	var segs []segment
	cur := e
	for {
		op, key, seg, ok := selection(cur)
		if !ok {
			break
		}
		if key != nil {
			w.walk(key)
		}
		segs = append(segs, seg)
		cur = op
	}
	if len(segs) == 0 {
		return false
	}
	if cur.Kind() != ast.IdentKind || w.isLocal(cur.AsIdent()) {
		w.walk(cur)
		return true
	}
	slices.Reverse(segs)
	r := reference{root: cur.AsIdent()}
	if !segs[0].constant {
		r.dynamic = true
	} else {
		r.name = segs[0].name
		if len(segs) > 1 && segs[1].constant {
			r.field = segs[1].name
		}
	}
	w.refs = append(w.refs, r)
	return true
}

// check returns what the references break in ctx, one message each.
func (ctx Context) check(refs []reference) []string {
	var msgs []string
	add := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if !slices.Contains(msgs, msg) {
			msgs = append(msgs, msg)
		}
	}
	where := ctx.Where
	if where == "" {
		where = "this expression"
	}
	for _, r := range refs {
		bit, known := nameBit(r.root)
		if !known {
			// The type-checker has already rejected undeclared names.
			continue
		}
		if ctx.Names&bit == 0 {
			switch {
			case ctx.Names == Secrets:
				add("%s may only read secrets, not %s", where, r.root)
			case bit == Item:
				add("%s is only in scope in the with and override of a step with for_each", r.root)
			case bit == Event:
				add("event is only in scope in the match of a wait_for")
			default:
				add("%s is not available in %s", r.root, where)
			}
			continue
		}
		switch r.root {
		case "secrets":
			if r.name == "" {
				add("secrets must be read by name, as secrets.NAME")
			}
		case "steps":
			ctx.checkStep(r, add)
		case "vars":
			if r.name != "" && !slices.Contains(ctx.Vars, r.name) {
				add("undeclared variable vars.%s%s", r.name, listing("declared", ctx.Vars))
			}
		case "trigger":
			if r.name != "" && !slices.Contains(triggerFields, r.name) {
				add("trigger has no field %q%s", r.name, listing("fields", triggerFields))
			}
		case "run":
			if r.name != "" && !slices.Contains(runFields, r.name) {
				add("run has no field %q%s", r.name, listing("fields", runFields))
			}
		}
	}
	return msgs
}

func (ctx Context) checkStep(r reference, add func(string, ...any)) {
	if r.name == "" {
		add("steps must be read by step id, as steps.ID or steps['ID']")
		return
	}
	if !slices.Contains(ctx.Steps, r.name) {
		if slices.Contains(ctx.AllSteps, r.name) {
			add("step %q does not run before this point, so steps.%s is not available", r.name, r.name)
		} else {
			add("unknown step %q%s", r.name, listing("earlier steps", ctx.Steps))
		}
		return
	}
	if r.field != "" && !slices.Contains(stepFields, r.field) {
		add("steps.%s has no field %q%s", r.name, r.field, listing("fields", stepFields))
	}
}

// listing renders " (what: a, b)" or "" for an empty list.
func listing(what string, list []string) string {
	if len(list) == 0 {
		return ""
	}
	return " (" + what + ": " + strings.Join(list, ", ") + ")"
}

// secretNames returns the names of the secrets the references read.
func secretNames(refs []reference, into []string) []string {
	for _, r := range refs {
		if r.root == "secrets" && r.name != "" && !slices.Contains(into, r.name) {
			into = append(into, r.name)
		}
	}
	return into
}
