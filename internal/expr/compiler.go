package expr

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// maxExpressionSize bounds the length of one CEL expression in code points,
// so that a hostile or corrupted file cannot make the parser work for long.
const maxExpressionSize = 10_000

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error
)

// environment returns the CEL environment shared by every Compiler. It
// declares every variable that any position may read; which of them a given
// expression may actually use is decided by its Context after type-checking.
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		celEnv, envErr = cel.NewEnv(
			cel.Variable("trigger", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("vars", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("steps", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("secrets", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("run", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("now", cel.TimestampType),
			cel.Variable("item", cel.DynType),
			cel.Variable("index", cel.IntType),
			cel.Variable("event", cel.DynType),
			cel.OptionalTypes(),
			cel.ParserExpressionSizeLimit(maxExpressionSize),
			ext.Strings(),
			ext.Math(),
			ext.Lists(),
			ext.Encoders(),
		)
		if envErr == nil {
			celEnv, envErr = withGuards(celEnv)
		}
	})
	return celEnv, envErr
}

// Compiler compiles conditions and templates. It caches programs by source
// text, so an expression repeated across a project is parsed, checked and
// planned once. Create one Compiler per project load; it is safe for
// concurrent use.
type Compiler struct {
	env *cel.Env

	mu    sync.Mutex
	cache map[string]*program
}

// NewCompiler returns a Compiler using the shared CEL environment (with the
// strings, math, lists, encoders and optional-types extensions, the
// functions that can multiply sizes guarded by MaxValueSize).
func NewCompiler() (*Compiler, error) {
	env, err := environment()
	if err != nil {
		return nil, fmt.Errorf("building the cel environment: %w", err)
	}
	return &Compiler{env: env, cache: map[string]*program{}}, nil
}

// program is one compiled CEL expression.
type program struct {
	src string
	prg cel.Program
	out *cel.Type
	// refs are the top-level variables the expression reads.
	refs []reference
	// loops is set when the expression holds a comprehension (all, exists,
	// map, filter...), the only construct whose running time its context
	// needs to bound; evaluating without a context saves the allocations
	// of cel-go's interrupt checks.
	loops bool
	// constant is set when the expression is a literal, such as the '{{'
	// escape; the literal's value is in value.
	constant bool
	value    ref.Val
	// problem is the syntax or type error, when compiling failed.
	problem string
}

// compile parses, checks and plans src, or returns the cached result.
func (c *Compiler) compile(src string) *program {
	c.mu.Lock()
	p, ok := c.cache[src]
	c.mu.Unlock()
	if ok {
		return p
	}
	p = c.build(src)
	c.mu.Lock()
	c.cache[src] = p
	c.mu.Unlock()
	return p
}

func (c *Compiler) build(src string) *program {
	p := &program{src: src}
	if strings.TrimSpace(src) == "" {
		p.problem = "empty expression"
		return p
	}
	checked, iss := c.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		p.problem = describeIssues(src, iss)
		return p
	}
	p.out = checked.OutputType()
	root := checked.NativeRep().Expr()
	p.refs = collectReferences(root)
	if root.Kind() == ast.LiteralKind {
		p.constant = true
		p.value = root.AsLiteral()
		return p
	}
	p.loops = hasComprehension(root)
	plan := c.plan(checked)
	if plan.problem != "" {
		p.problem = plan.problem
		return p
	}
	prg, err := c.env.Program(checked, programOptions(plan.metered)...)
	if err != nil {
		p.problem = err.Error()
		return p
	}
	p.prg = prg
	return p
}

// describeIssues turns CEL's issues into one line: each message with its
// column inside the expression, and a hint where a lone = stands for ==.
func describeIssues(src string, iss *cel.Issues) string {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		hint := loneEquals(src, e.Location.Line(), e.Location.Column())
		if col := e.Location.Column(); col >= 0 && e.Location.Line() <= 1 {
			msg = fmt.Sprintf("%s (column %d)", msg, col+1)
		} else if e.Location.Line() > 1 {
			msg = fmt.Sprintf("%s (line %d, column %d)", msg, e.Location.Line(), col+1)
		}
		if hint {
			msg += `: did you mean "=="?`
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return iss.String()
	}
	return strings.Join(msgs, "; ")
}

// loneEquals reports a single = (not part of ==, !=, <= or >=) at line and
// column (from 1 and 0, in characters) of src: CEL has no assignment, so it
// is almost always a comparison written with one =.
func loneEquals(src string, line, col int) bool {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) || col < 0 {
		return false
	}
	r := []rune(lines[line-1])
	if col >= len(r) || r[col] != '=' {
		return false
	}
	if col+1 < len(r) && r[col+1] == '=' {
		return false
	}
	return col == 0 || !strings.ContainsRune("=!<>", r[col-1])
}

// eval runs the program against the scope. It stops early with an error
// when ctx ends or the evaluation exceeds MaxCost.
func (p *program) eval(ctx context.Context, s *Scope) (ref.Val, error) {
	if p.constant {
		return p.value, nil
	}
	var out ref.Val
	var err error
	if p.loops && ctx.Done() != nil {
		out, _, err = p.prg.ContextEval(ctx, s)
	} else {
		out, _, err = p.prg.Eval(s)
	}
	if err != nil {
		return nil, evalError(ctx, err)
	}
	if e, ok := out.(*types.Err); ok {
		return nil, e
	}
	if types.IsUnknown(out) {
		return nil, fmt.Errorf("result depends on unknown values")
	}
	return out, nil
}

// hasComprehension reports whether e holds a comprehension.
func hasComprehension(e ast.Expr) bool {
	found := false
	visitor := ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.ComprehensionKind {
			found = true
		}
	})
	ast.PostOrderVisit(e, visitor)
	return found
}

// outKind returns the checked result type's kind.
func (p *program) outKind() types.Kind {
	if p.out == nil {
		return types.DynKind
	}
	return p.out.Kind()
}

// outName returns the checked result type as CEL spells it.
func (p *program) outName() string {
	if p.out == nil {
		return "dyn"
	}
	return p.out.String()
}
