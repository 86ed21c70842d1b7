package expr

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testScope returns a scope like the engine builds for a webhook run after
// step "lookup" finished.
func testScope(t *testing.T) *Scope {
	t.Helper()
	s := NewScope(
		RunData{ID: "run-1", Workflow: "oncall", Attempt: 1},
		TriggerData{
			Kind: "webhook",
			Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
			Body: map[string]any{
				"urgent": true,
				"count":  float64(3),
				"phone":  float64(14155550123),
				"recipients": []any{
					map[string]any{"phone": "111", "name": "Ann"},
					map[string]any{"phone": "222", "name": "Bob"},
				},
			},
			Headers: map[string]string{"x-source": "pager"},
		},
		map[string]string{"TOKEN": "s3cret"},
	)
	s.SetVars(map[string]any{"team": "ops", "phone": "14155550123", "n": int64(2)})
	s.SetStep("lookup", StepData{Output: map[string]any{"id": "c-9"}, Status: "succeeded", Attempts: 1, Provider: "support"})
	s.SetNow(time.Date(2026, 3, 1, 9, 0, 5, 0, time.UTC))
	return s
}

func fullContext() Context {
	return Context{
		Where:    "test",
		Names:    Runtime | Steps,
		Vars:     []string{"team", "phone", "n"},
		Steps:    []string{"lookup"},
		AllSteps: []string{"lookup", "later"},
	}
}

func render(t *testing.T, src any, s *Scope, ctx Context) any {
	t.Helper()
	c, err := NewCompiler()
	require.NoError(t, err)
	v, errs := c.Value(src, ctx)
	require.NoError(t, errs.Err())
	out, err := v.Render(s)
	require.NoError(t, err)
	return out
}

func TestTemplateRender(t *testing.T) {
	t.Parallel()
	s := testScope(t)
	loop := fullContext()
	loop.Names |= Item
	tests := []struct {
		name string
		src  string
		ctx  Context
		want any
	}{
		{"constant", "plain text } }} {", fullContext(), "plain text } }} {"},
		{"single string", "{{ vars.team }}", fullContext(), "ops"},
		{"single int stays typed", "{{ vars.n + 1 }}", fullContext(), int64(3)},
		{"single bool", "{{ trigger.body.urgent }}", fullContext(), true},
		{"single list", "{{ trigger.body.recipients.map(r, r.name) }}", fullContext(), []any{"Ann", "Bob"}},
		{"single map", "{{ {'a': vars.n, 'b': [1, 2.5]} }}", fullContext(), map[string]any{"a": int64(2), "b": []any{int64(1), 2.5}}},
		{"nested map literal closes inside", "{{ {'a': {'b': 1}} }}", fullContext(), map[string]any{"a": map[string]any{"b": int64(1)}}},
		{"json value passed through", "{{ trigger.body.recipients[1] }}", fullContext(), map[string]any{"phone": "222", "name": "Bob"}},
		{"null", "{{ null }}", fullContext(), nil},
		{"timestamp becomes rfc3339", "{{ trigger.time }}", fullContext(), "2026-03-01T09:00:00Z"},
		{"now", "{{ now }}", fullContext(), "2026-03-01T09:00:05Z"},
		{"mixed text", "Good morning {{ vars.team }}, you are on call.", fullContext(), "Good morning ops, you are on call."},
		{"two expressions", "{{ vars.team }}-{{ vars.n }}", fullContext(), "ops-2"},
		{"surrounding space makes text", " {{ vars.n }}", fullContext(), " 2"},
		{"float without exponent", "tel:{{ trigger.body.phone }}", fullContext(), "tel:14155550123"},
		{"fraction", "{{ 1.5 }}x", fullContext(), "1.5x"},
		{"list in text is json", "ids={{ [1, 'a'] }}", fullContext(), `ids=[1,"a"]`},
		{"null in text is empty", "[{{ null }}]", fullContext(), "[]"},
		{"escape yields literal braces", `{{ "{{" }}`, fullContext(), "{{"},
		{"chitchatlabs placeholder", "{{ '{{name}}' }}", fullContext(), "{{name}}"},
		{"escape inside text", `Hi {{ "{{" }}name}} from {{ vars.team }}`, fullContext(), "Hi {{name}} from ops"},
		{"closing braces in a string literal", "{{ 'a}}b' + vars.team }}", fullContext(), "a}}bops"},
		{"steps output", "{{ steps.lookup.output.id }}", fullContext(), "c-9"},
		{"steps status", "{{ steps['lookup'].status }}", fullContext(), "succeeded"},
		{"headers", "{{ trigger.headers['x-source'] }}", fullContext(), "pager"},
		{"run", "{{ run.workflow }}#{{ run.attempt }}", fullContext(), "oncall#1"},
		{"secrets", "Bearer {{ secrets.TOKEN }}", fullContext(), "Bearer s3cret"},
		{"strings extension", "{{ vars.team.upperAscii() }}", fullContext(), "OPS"},
		{"math extension", "{{ math.greatest(1, vars.n, 0) }}", fullContext(), int64(2)},
		{"lists extension", "{{ [3, 1, 2].sort() }}", fullContext(), []any{int64(1), int64(2), int64(3)}},
		{"encoders extension", "{{ base64.encode(b'hi') }}", fullContext(), "aGk="},
		{"optional field", "{{ trigger.body.?missing.orValue('none') }}", fullContext(), "none"},
		{"item in loop", "{{ item }}/{{ index }}", loop, "x/4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			scope := s
			if tt.ctx.Names&Item != 0 {
				scope = s.WithItem("x", 4)
			}
			require.Equal(t, tt.want, render(t, tt.src, scope, tt.ctx))
		})
	}
}

func TestValueTree(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	src := map[string]any{
		"to":       map[string]any{"mobile": "{{ vars.phone }}", "name": "static"},
		"params":   []any{"a", "{{ vars.n }}", int64(7)},
		"template": "oncall",
		"flag":     true,
		"escape":   "{{ '{{name}}' }}",
	}
	v, errs := c.Value(src, fullContext())
	require.NoError(t, errs.Err())
	out, err := v.Render(testScope(t))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"to":       map[string]any{"mobile": "14155550123", "name": "static"},
		"params":   []any{"a", int64(2), int64(7)},
		"template": "oncall",
		"flag":     true,
		"escape":   "{{name}}",
	}, out)
	_, static := v.Static()
	require.False(t, static)

	constant, errs := c.Value(map[string]any{"a": []any{"x", "{{ 'y' }}"}}, fullContext())
	require.NoError(t, errs.Err())
	k, static := constant.Static()
	require.True(t, static, "a tree of literals and literal expressions needs no rendering")
	require.Equal(t, map[string]any{"a": []any{"x", "y"}}, k)

	js, err := v.MarshalJSON()
	require.NoError(t, err)
	require.Contains(t, string(js), `"mobile":"{{ vars.phone }}"`, "JSON shows the source")
	require.Equal(t, []string(nil), v.Secrets())
}

func TestTemplateCompileErrors(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	tests := []struct {
		name string
		src  any
		ctx  Context
		want string
	}{
		{"unclosed", "Hi {{ vars.team", fullContext(), `"Hi {{ vars.team": unclosed {{`},
		{"empty", "{{ }}", fullContext(), "empty expression"},
		{"syntax", "{{ vars.team + }}", fullContext(), "Syntax error"},
		{"undeclared", "{{ foo.bar }}", fullContext(), "undeclared reference to 'foo'"},
		{"type error", "{{ 1 + 'a' }}", fullContext(), "no matching overload"},
		{"unknown var", "{{ vars.tema }}", fullContext(), "undeclared variable vars.tema (declared: team, phone, n)"},
		{"later step", "{{ steps.later.output }}", fullContext(), `step "later" does not run before this point`},
		{"unknown step", "{{ steps.nope.output }}", fullContext(), `unknown step "nope" (earlier steps: lookup)`},
		{"step field", "{{ steps.lookup.outptu }}", fullContext(), `steps.lookup has no field "outptu"`},
		{"dynamic step", "{{ steps[vars.team].output }}", fullContext(), "steps must be read by step id"},
		{"trigger field", "{{ trigger.bdy }}", fullContext(), `trigger has no field "bdy"`},
		{"run field", "{{ run.name }}", fullContext(), `run has no field "name"`},
		{"item outside loop", "{{ item.phone }}", fullContext(), "item is only in scope in the with and override of a step with for_each"},
		{"index outside loop", "{{ index }}", fullContext(), "index is only in scope"},
		{"secrets only", "{{ vars.team }}", Context{Where: "provider config", Names: Secrets}, "provider config may only read secrets, not vars"},
		{"bare secrets", "{{ secrets }}", fullContext(), "secrets must be read by name"},
		{"steps in when", "{{ steps.lookup.output }}", Context{Where: "the workflow's when", Names: Runtime}, "steps is not available in the workflow's when"},
		{"path of nested error", map[string]any{"to": map[string]any{"mobile": "{{ vars.x }}"}}, fullContext(), `to.mobile: "{{ vars.x }}": undeclared variable vars.x`},
		{"path in list", map[string]any{"params": []any{"ok", "{{ nope }}"}}, fullContext(), `params[1]: "{{ nope }}": undeclared reference to 'nope'`},
		{"comprehension variable shadows vars", "{{ [1].map(vars, vars.x) }}", fullContext(), "type 'int' does not support field selection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errs := c.Value(tt.src, tt.ctx)
			require.Error(t, errs.Err())
			require.Contains(t, errs.Error(), tt.want)
		})
	}
}

func TestComprehensionVariablesShadow(t *testing.T) {
	t.Parallel()
	// "item" as a comprehension variable is local, so it is fine outside a
	// for_each step.
	out := render(t, "{{ trigger.body.recipients.map(item, item.phone) }}", testScope(t), fullContext())
	require.Equal(t, []any{"111", "222"}, out)
}

func TestTemplateRuntimeErrorNamesExpression(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	v, errs := c.Value(map[string]any{"body": "Hi {{ trigger.body.nobody.name }}"}, fullContext())
	require.NoError(t, errs.Err())
	_, err = v.Render(testScope(t))
	require.Error(t, err)
	require.Contains(t, err.Error(), `body: "Hi {{ trigger.body.nobody.name }}": evaluating {{ trigger.body.nobody.name }}: no such key: nobody`)
}

func TestList(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	v, errs := c.List("{{ trigger.body.recipients }}", fullContext())
	require.NoError(t, errs.Err())
	l, err := v.RenderList(testScope(t))
	require.NoError(t, err)
	require.Len(t, l, 2)

	v, errs = c.List([]any{"a", "{{ vars.team }}"}, fullContext())
	require.NoError(t, errs.Err())
	l, err = v.RenderList(testScope(t))
	require.NoError(t, err)
	require.Equal(t, []any{"a", "ops"}, l)

	for src, want := range map[any]string{
		"{{ vars.n + 1 }}": "must yield a list, but this yields a int",
		"x {{ [1] }}":      "must yield a list, but this is text",
		"plain":            "must be a list or a single {{ }} expression that yields one, not a string",
		int64(3):           "not a number",
		"{{ 'a'.size() }}": "yields a int",
	} {
		_, errs := c.List(src, fullContext())
		require.ErrorContains(t, errs.Err(), want, "%v", src)
	}

	v, errs = c.List("{{ trigger.body.urgent }}", fullContext())
	require.NoError(t, errs.Err(), "dyn may be a list")
	_, err = v.RenderList(testScope(t))
	require.ErrorContains(t, err, "for_each must yield a list, not a bool")
}

func TestSecretsAreCollected(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	v, errs := c.Value(map[string]any{
		"token": "{{ secrets.B }}",
		"url":   "https://{{ secrets['A'] }}@host/{{ secrets.B }}",
	}, Context{Names: Secrets, Where: "provider config"})
	require.NoError(t, errs.Err())
	require.ElementsMatch(t, []string{"A", "B"}, v.Secrets())
	out, err := v.Render(SecretScope(map[string]string{"A": "a", "B": "b"}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"token": "b", "url": "https://a@host/b"}, out)
}

func TestScanKeepsStringLiterals(t *testing.T) {
	t.Parallel()
	for src, n := range map[string]int{
		`{{ "}}" }}`:               1,
		`{{ '''x}}y''' }} {{ 1 }}`: 2,
		`{{ r'\' }}`:               1,
		`{{ 'it\'s }}' }}`:         1,
	} {
		spans, err := scan(src)
		require.NoError(t, err, src)
		require.Len(t, spans, n, src)
	}
	_, err := scan(`{{ 'open }}`)
	require.ErrorContains(t, err, "unterminated string literal")
	require.False(t, HasTemplate("a } b }} c"))
	require.True(t, HasTemplate(`{{ "{{" }}`))
}

func TestConcurrentRender(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	ctx := fullContext()
	ctx.Names |= Item
	v, errs := c.Value(map[string]any{"phone": "{{ item.phone }}", "body": "Hi {{ item.name }} from {{ vars.team }}"}, ctx)
	require.NoError(t, errs.Err())
	s := testScope(t)
	items := []any{map[string]any{"phone": "1", "name": "Ann"}, map[string]any{"phone": "2", "name": "Bob"}}
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for range 200 {
				var out map[string]any
				out, err = v.RenderMap(s.WithItem(items[i%2], i%2))
				if err == nil && out["phone"] != items[i%2].(map[string]any)["phone"] {
					err = fmt.Errorf("got %v", out)
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}

func TestWithStepLeavesScopeAlone(t *testing.T) {
	t.Parallel()
	s := testScope(t)
	f := s.WithStep("notify", StepData{Status: "failed", Error: "boom"})
	c, err := NewCompiler()
	require.NoError(t, err)
	ctx := fullContext()
	ctx.Steps = append(ctx.Steps, "notify")
	v, errs := c.Value("{{ steps.notify.error }} after {{ steps.lookup.status }}", ctx)
	require.NoError(t, errs.Err())
	out, err := v.Render(f)
	require.NoError(t, err)
	require.Equal(t, "boom after succeeded", out)
	_, err = v.Render(s)
	require.ErrorContains(t, err, "no such key: notify", "the original scope has no notify step")
}
