package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"cel.dev/cel-go/common/types"
)

// Condition is a compiled CEL condition: a workflow's when or a step's if.
// A nil *Condition is always true.
type Condition struct {
	src string
	prg *program
}

// Condition compiles src, a CEL expression of type bool. For convenience
// the whole condition may also be wrapped in one {{ }}.
func (c *Compiler) Condition(src string, ctx Context) (*Condition, Errors) {
	inner := src
	if spans, err := scan(src); err == nil && len(spans) == 1 {
		trimmed := strings.TrimSpace(src)
		if strings.HasPrefix(trimmed, "{{") && strings.HasSuffix(trimmed, "}}") && len(strings.TrimSpace(src[spans[0].end:])) == 0 {
			inner = trimmed[2 : len(trimmed)-2]
		}
	}
	p := c.compile(inner)
	fail := func(msgs ...string) (*Condition, Errors) {
		return nil, Errors{{Source: src, Message: strings.Join(msgs, "; ")}}
	}
	if p.problem != "" {
		return fail(p.problem)
	}
	if msgs := ctx.check(p.refs); len(msgs) > 0 {
		return fail(msgs...)
	}
	if k := p.outKind(); k != types.BoolKind && k != types.DynKind && k != types.AnyKind {
		return fail(fmt.Sprintf("a condition must be a bool, but this is a %s", p.outName()))
	}
	return &Condition{src: src, prg: p}, nil
}

// Source returns the condition as written.
func (c *Condition) Source() string {
	if c == nil {
		return ""
	}
	return c.src
}

// Secrets returns the names of the secrets the condition reads.
func (c *Condition) Secrets() []string {
	if c == nil {
		return nil
	}
	return secretNames(c.prg.refs, nil)
}

// Eval evaluates the condition in s. A nil Condition is true.
func (c *Condition) Eval(s *Scope) (bool, error) {
	return c.EvalContext(context.Background(), s)
}

// EvalContext evaluates the condition in s, stopping with an error when ctx
// ends (the engine passes the step's deadline for an if, the run's context
// for a when) or when the evaluation exceeds MaxCost.
func (c *Condition) EvalContext(ctx context.Context, s *Scope) (bool, error) {
	if c == nil {
		return true, nil
	}
	v, err := c.prg.eval(ctx, s)
	if err != nil {
		return false, &Error{Source: c.src, Message: "evaluating condition: " + err.Error()}
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &Error{Source: c.src, Message: fmt.Sprintf("condition evaluated to %s, not a bool", v.Type().TypeName())}
	}
	return bool(b), nil
}

// MarshalJSON writes the condition as its source text.
func (c *Condition) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.src)
}
