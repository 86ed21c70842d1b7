package expr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCondition(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	s := testScope(t)
	tests := []struct {
		src  string
		want bool
	}{
		{"vars.team == 'ops'", true},
		{"trigger.kind != 'webhook' || trigger.body.urgent == true", true},
		{"trigger.body.count == 3", true},
		{"has(trigger.body.nobody)", false},
		{"steps.lookup.status == 'succeeded' && steps.lookup.attempts == 1", true},
		{"now > trigger.time", true},
		{"{{ vars.n > 1 }}", true},
		{"  {{ vars.n > 5 }} ", false},
	}
	for _, tt := range tests {
		cond, errs := c.Condition(tt.src, fullContext())
		require.NoError(t, errs.Err(), tt.src)
		got, err := cond.Eval(s)
		require.NoError(t, err, tt.src)
		require.Equal(t, tt.want, got, tt.src)
		require.Equal(t, tt.src, cond.Source())
	}

	var none *Condition
	ok, err := none.Eval(s)
	require.NoError(t, err)
	require.True(t, ok, "a missing condition is true")
}

func TestConditionErrors(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	for src, want := range map[string]string{
		"vars.n + 1":            "a condition must be a bool, but this is a int",
		"'yes'":                 "a condition must be a bool, but this is a string",
		"vars.team ==":          "Syntax error",
		"vars.missing == 1":     "undeclared variable vars.missing",
		"steps.later.status":    `step "later" does not run before this point`,
		"item.x == 1":           "item is only in scope",
		"vars.team == 'a' && x": "undeclared reference to 'x'",
	} {
		_, errs := c.Condition(src, fullContext())
		require.ErrorContains(t, errs.Err(), want, src)
	}

	cond, errs := c.Condition("trigger.body.nobody == 1", fullContext())
	require.NoError(t, errs.Err())
	_, err = cond.Eval(testScope(t))
	require.ErrorContains(t, err, `"trigger.body.nobody == 1": evaluating condition: no such key: nobody`)

	cond, errs = c.Condition("trigger.body.count", fullContext())
	require.NoError(t, errs.Err(), "dyn may be a bool")
	_, err = cond.Eval(testScope(t))
	require.ErrorContains(t, err, "condition evaluated to double, not a bool")
}

func TestCompileCacheSharesPrograms(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	a, errs := c.Condition("vars.team == 'ops'", fullContext())
	require.NoError(t, errs.Err())
	b, errs := c.Condition("vars.team == 'ops'", fullContext())
	require.NoError(t, errs.Err())
	require.Same(t, a.prg, b.prg)
	// The same text in a narrower context is still checked against it.
	_, errs = c.Condition("vars.team == 'ops'", Context{Names: Secrets, Where: "provider config"})
	require.ErrorContains(t, errs.Err(), "provider config may only read secrets, not vars")
}
