package expr_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/expr"
)

// The engine's path for one step: compile at load, then per run build a
// Scope, evaluate the step's if and render its with.
func Example() {
	c, err := expr.NewCompiler()
	if err != nil {
		panic(err)
	}
	ctx := expr.Context{Where: "step notify", Names: expr.Runtime | expr.Steps, Vars: []string{"team"}}
	cond, errs := c.Condition("vars.team == 'ops' && trigger.body.urgent", ctx)
	if errs != nil {
		panic(errs)
	}
	with, errs := c.Value(map[string]any{
		"body":   "Good morning {{ vars.team }}",
		"count":  "{{ size(trigger.body.ids) }}",
		"params": []any{"{{ '{{name}}' }}"},
	}, ctx)
	if errs != nil {
		panic(errs)
	}

	scope := expr.NewScope(
		expr.RunData{ID: "r1", Workflow: "digest", Attempt: 1},
		expr.TriggerData{Kind: "webhook", Body: map[string]any{"urgent": true, "ids": []any{"a", "b"}}},
		nil,
	)
	scope.SetVars(map[string]any{"team": "ops"})
	ok, err := cond.Eval(scope)
	fmt.Println(ok, err)
	out, err := with.RenderMap(scope)
	fmt.Println(out["body"], out["count"], out["params"], err)

	_, errs = c.Value("{{ vars.tema }}", ctx)
	fmt.Println(errs)
	// Output:
	// true <nil>
	// Good morning ops 2 [{{name}}] <nil>
	// "{{ vars.tema }}": undeclared variable vars.tema (declared: team)
}
