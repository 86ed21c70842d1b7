package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/common/types"
)

// Value is a compiled value tree: a step's with, override or for_each, a
// workflow's vars or a provider's config. Maps and lists are walked
// recursively; only strings holding {{ }} are compiled, and subtrees without
// templates are rendered as the constants they are, at no cost.
//
// A nil *Value renders to nil.
type Value struct {
	src any
	// parent and key place the value in its tree; path builds its path
	// from them only when a message needs it, so that compiling a deep
	// tree stays linear.
	parent *Value
	key    any // string or int
	// static is set when the subtree holds no template; konst is then its
	// value, with literal expressions such as {{ "{{" }} folded in.
	static bool
	konst  any
	// size is the size of konst, set on the topmost static nodes of a tree.
	size   int
	tmpl   *compiledTemplate
	keys   []string
	elems  []*Value
	isList bool
	// secrets are the names of the secrets the subtree reads.
	secrets []string
}

// Value compiles v, a plain Go value (string, bool, int64, float64, nil,
// []any, map[string]any). Every problem is returned, each with the path of
// the offending string.
func (c *Compiler) Value(v any, ctx Context) (*Value, Errors) {
	var errs Errors
	out := c.value(v, nil, nil, ctx, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	out.measure()
	return out, nil
}

// measure sets the size of the topmost static nodes of the tree, which
// rendering adds up with what the templates render.
func (v *Value) measure() {
	if v.static {
		v.size = sizeOf(v.konst, MaxInputSize)
		return
	}
	for _, el := range v.elems {
		el.measure()
	}
}

func (c *Compiler) value(v any, parent *Value, key any, ctx Context, errs *Errors) *Value {
	out := &Value{src: v, parent: parent, key: key}
	switch x := v.(type) {
	case string:
		if !HasTemplate(x) {
			out.static, out.konst = true, x
			return out
		}
		t, problems := c.template(x, ctx)
		if problems != nil {
			for _, msg := range problems {
				*errs = append(*errs, &Error{Path: out.path(), Source: x, Message: msg})
			}
			return out
		}
		if k, ok := t.static(); ok {
			out.static, out.konst = true, k
			return out
		}
		out.tmpl = t
		out.secrets = t.secrets(nil)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out.keys = keys
		out.static = true
		konst := make(map[string]any, len(x))
		for _, k := range keys {
			el := c.value(x[k], out, k, ctx, errs)
			out.elems = append(out.elems, el)
			out.static = out.static && el.static
			konst[k] = el.konst
			out.secrets = mergeNames(out.secrets, el.secrets)
		}
		if out.static {
			out.konst = konst
		}
	case []any:
		out.isList = true
		out.static = true
		konst := make([]any, len(x))
		for i, item := range x {
			el := c.value(item, out, i, ctx, errs)
			out.elems = append(out.elems, el)
			out.static = out.static && el.static
			konst[i] = el.konst
			out.secrets = mergeNames(out.secrets, el.secrets)
		}
		if out.static {
			out.konst = konst
		}
	default:
		p, err := plainNative(v)
		if err != nil {
			*errs = append(*errs, &Error{Path: out.path(), Message: err.Error()})
		}
		out.static, out.konst = true, p
	}
	return out
}

// path locates the value in its tree, such as "to.mobile" or
// "params[1].x"; the root's path is empty.
func (v *Value) path() string {
	var keys []any
	for n := v; n != nil && n.parent != nil; n = n.parent {
		keys = append(keys, n.key)
	}
	var b strings.Builder
	for i := len(keys) - 1; i >= 0; i-- {
		switch k := keys[i].(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		}
	}
	return b.String()
}

func mergeNames(into, from []string) []string {
	for _, n := range from {
		if !slices.Contains(into, n) {
			into = append(into, n)
		}
	}
	return into
}

// List compiles v as a for_each value, which must render to a list: a list
// literal or a single {{ }} expression whose type may be a list.
func (c *Compiler) List(v any, ctx Context) (*Value, Errors) {
	out, errs := c.Value(v, ctx)
	if errs != nil {
		return nil, errs
	}
	if out.static {
		if _, ok := out.konst.([]any); !ok {
			return nil, Errors{{Message: fmt.Sprintf("must be a list or a single {{ }} expression that yields one, not %s", typeName(out.konst))}}
		}
		return out, nil
	}
	if out.tmpl != nil {
		switch k, name := out.tmpl.outKind(); k {
		case types.ListKind, types.DynKind, types.AnyKind:
		default:
			what := "yields a " + name
			if !out.tmpl.single {
				what = "is text, because it has more than one {{ }} or text around it"
			}
			return nil, Errors{{Source: out.tmpl.src, Message: "must yield a list, but this " + what}}
		}
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case int64, float64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// Render evaluates the templates in the tree against s and returns the
// resulting plain Go value. Subtrees without templates are returned as
// shared constants: callers must treat the result as read-only (copy before
// deep-merging into it).
func (v *Value) Render(s *Scope) (any, error) {
	return v.RenderContext(context.Background(), s)
}

// RenderContext is Render stopping with an error when ctx ends (the engine
// passes the step's deadline for a with, the run's context for vars). Each
// template may render at most MaxValueSize, and the whole tree at most
// MaxInputSize; an expression that exceeds MaxCost fails.
func (v *Value) RenderContext(ctx context.Context, s *Scope) (any, error) {
	if v == nil {
		return nil, nil
	}
	if v.static {
		return v.konst, nil
	}
	r := renderer{ctx: ctx, scope: s, root: v}
	return r.render(v)
}

// renderer renders one tree, adding up the size of what it has rendered.
type renderer struct {
	ctx   context.Context
	scope *Scope
	root  *Value
	total int
}

func (r *renderer) add(v *Value, n int) error {
	r.total += n
	if r.total <= MaxInputSize {
		return nil
	}
	msg := "the rendered fields together are larger than " + sizeText(MaxInputSize)
	if p := v.path(); p != "" && v != r.root {
		msg += " (the limit was passed at " + p + ")"
	}
	return &Error{Path: r.root.path(), Message: msg}
}

func (r *renderer) render(v *Value) (any, error) {
	if v.static {
		return v.konst, r.add(v, v.size)
	}
	if v.tmpl != nil {
		out, n, err := v.tmpl.render(r.ctx, r.scope)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Path == "" {
				e.Path = v.path()
			}
			return nil, err
		}
		return out, r.add(v, n)
	}
	if v.isList {
		out := make([]any, len(v.elems))
		for i, el := range v.elems {
			o, err := r.render(el)
			if err != nil {
				return nil, err
			}
			out[i] = o
		}
		return out, nil
	}
	out := make(map[string]any, len(v.elems))
	for i, el := range v.elems {
		o, err := r.render(el)
		if err != nil {
			return nil, err
		}
		out[v.keys[i]] = o
	}
	return out, nil
}

// RenderMap renders a value that must be an object, such as a step's with.
// A nil Value renders to an empty map.
func (v *Value) RenderMap(s *Scope) (map[string]any, error) {
	return v.RenderMapContext(context.Background(), s)
}

// RenderMapContext is RenderMap with the limits of RenderContext.
func (v *Value) RenderMapContext(ctx context.Context, s *Scope) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	out, err := v.RenderContext(ctx, s)
	if err != nil {
		return nil, err
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, &Error{Path: v.path(), Message: fmt.Sprintf("must be an object, not %s", typeName(out))}
	}
	return m, nil
}

// RenderList renders a for_each value, which must yield a list.
func (v *Value) RenderList(s *Scope) ([]any, error) {
	return v.RenderListContext(context.Background(), s)
}

// RenderListContext is RenderList with the limits of RenderContext.
func (v *Value) RenderListContext(ctx context.Context, s *Scope) ([]any, error) {
	out, err := v.RenderContext(ctx, s)
	if err != nil {
		return nil, err
	}
	l, ok := out.([]any)
	if !ok {
		src := ""
		if v != nil && v.tmpl != nil {
			src = v.tmpl.src
		}
		return nil, &Error{Source: src, Message: fmt.Sprintf("for_each must yield a list, not %s", typeName(out))}
	}
	return l, nil
}

// Static returns the value when it holds no template.
func (v *Value) Static() (any, bool) {
	if v == nil {
		return nil, true
	}
	return v.konst, v.static
}

// Source returns the value as written, templates unrendered.
func (v *Value) Source() any {
	if v == nil {
		return nil
	}
	return v.src
}

// Secrets returns the names of the secrets the value reads.
func (v *Value) Secrets() []string {
	if v == nil {
		return nil
	}
	return slices.Clone(v.secrets)
}

// MarshalJSON writes the value as written, templates unrendered.
func (v *Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(v.src)
}

// SecretRef is one read of a secret inside a value tree.
type SecretRef struct {
	// Path locates the string that reads the secret ("" for the root).
	Path string
	Name string
}

// SecretRefs lists where the tree reads which secrets, in path order.
func (v *Value) SecretRefs() []SecretRef {
	var out []SecretRef
	var walk func(*Value)
	walk = func(n *Value) {
		if n == nil || len(n.secrets) == 0 {
			return
		}
		if n.tmpl != nil {
			for _, name := range n.secrets {
				out = append(out, SecretRef{Path: n.path(), Name: name})
			}
			return
		}
		for _, el := range n.elems {
			walk(el)
		}
	}
	walk(v)
	return out
}
