package expr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/stretchr/testify/require"
)

// hostileScope is a run whose trigger body holds a list l of n numbers and a
// string s of size bytes, the ingredients of the templates that once took
// the host down.
func hostileScope(n, size int) *Scope {
	l := make([]any, n)
	for i := range l {
		l[i] = float64(i)
	}
	body := map[string]any{"l": l, "s": strings.Repeat("a", size)}
	return NewScope(RunData{ID: "run-1", Workflow: "w", Attempt: 1}, TriggerData{Kind: "webhook", Body: body}, nil)
}

func renderErr(t *testing.T, src any, s *Scope) error {
	t.Helper()
	c, err := NewCompiler()
	require.NoError(t, err)
	v, errs := c.Value(src, fullContext())
	require.NoError(t, errs.Err())
	_, err = v.RenderContext(context.Background(), s)
	require.Error(t, err)
	return err
}

func TestRenderSizeLimits(t *testing.T) {
	t.Parallel()
	s := hostileScope(10, 200_000)
	tests := []struct {
		name string
		src  any
		want string
	}{
		// join would build 2 MB from ten references to one string; the guard
		// refuses before allocating anything.
		{"join", map[string]any{"body": "{{ trigger.body.l.map(a, trigger.body.s).join('') }}"},
			`body: "{{ trigger.body.l.map(a, trigger.body.s).join('') }}": evaluating {{ trigger.body.l.map(a, trigger.body.s).join('') }}: join: the result would be larger than 1 MiB`},
		{"join with separator", map[string]any{"body": "x{{ trigger.body.l.map(a, trigger.body.s).join(', ') }}"},
			"join: the result would be larger than 1 MiB"},
		{"replace", map[string]any{"body": "{{ trigger.body.s.substring(0, 2000).replace('a', trigger.body.s.substring(0, 2000)) }}"},
			"replace: the result would be larger than 1 MiB"},
		{"format", map[string]any{"body": "{{ '%s%s%s%s%s%s'.format(trigger.body.l.map(a, trigger.body.s)) }}"},
			"format: the result would be larger than 1 MiB"},
		// A list of references to one string is small in memory and large
		// as JSON: it is measured before it is converted or written.
		{"typed value", map[string]any{"to": map[string]any{"list": "{{ trigger.body.l.map(a, trigger.body.s) }}"}},
			`to.list: "{{ trigger.body.l.map(a, trigger.body.s) }}": rendered value is larger than 1 MiB`},
		{"text", map[string]any{"body": "Hi {{ trigger.body.l.map(a, trigger.body.s) }}"},
			`body: "Hi {{ trigger.body.l.map(a, trigger.body.s) }}": rendered value is larger than 1 MiB`},
		{"text of many parts", map[string]any{"body": strings.Repeat("{{ trigger.body.s }}", 6)},
			"rendered value is larger than 1 MiB"},
		// Six fields of 800 KB each: every one under 1 MiB, 4.8 MB together.
		{"whole input", map[string]any{
			"a": "{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}", "b": "{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}",
			"c": "{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}", "d": "{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}",
			"e": "{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}", "f": []any{"{{ trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s }}"},
		}, "the rendered fields together are larger than 4 MiB (the limit was passed at f[0])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := renderErr(t, tt.src, s)
			require.Contains(t, err.Error(), tt.want)
			var e *Error
			require.True(t, errors.As(err, &e))
		})
	}
}

func TestRenderFlattenLimit(t *testing.T) {
	t.Parallel()
	// 1100 × 1100 elements: past the limit of 2^20 elements.
	err := renderErr(t, map[string]any{"n": "{{ size(trigger.body.l.map(a, trigger.body.l).flatten()) }}"}, hostileScope(1100, 1))
	require.Contains(t, err.Error(), "flatten: the result would be larger than 1048576 elements")
}

func TestQuadraticListFunctionsAreBounded(t *testing.T) {
	t.Parallel()
	// distinct and the set functions compare every pair: 10,000 elements
	// are 50 million pairs, which would run for seconds in one call that
	// nothing can interrupt.
	s := hostileScope(10_000, 1)
	for _, src := range []string{
		"{{ trigger.body.l.distinct() }}",
		"{{ trigger.body.l.hasAll(trigger.body.l) }}",
		"{{ trigger.body.l.hasExactly(trigger.body.l) }}",
	} {
		// The guard refuses the call; cel-go then charges the call's
		// modelled cost, which is over the limit too, and reports that.
		start := time.Now()
		err := renderErr(t, map[string]any{"x": src}, s)
		require.Contains(t, err.Error(), "evaluation stopped: it exceeded the cost limit", src)
		t.Logf("%s failed after %s", src, time.Since(start))
	}
	l := func(n int) ref.Val { return types.DefaultTypeAdapter.NativeToValue(make([]any, n)) }
	require.Equal(t, "the lists are too long: comparing 49995000 pairs of elements is more work than one expression may do (10000000)", pairs([]ref.Val{l(10_000)}))
	require.Equal(t, "the lists are too long: comparing 12000000 pairs of elements is more work than one expression may do (10000000)", pairs([]ref.Val{l(3_000), l(4_000)}))
	require.Empty(t, pairs([]ref.Val{l(4_000)}))
	out := render(t, map[string]any{"x": "{{ trigger.body.l.distinct().size() }}"}, hostileScope(1_000, 1), fullContext())
	require.Equal(t, map[string]any{"x": int64(1_000)}, out)
}

func TestRenderWithinLimits(t *testing.T) {
	t.Parallel()
	// Values just under the limits render: the limits bite on size, not on
	// the shape of the expression.
	s := hostileScope(4, 250_000)
	out := render(t, map[string]any{
		"one":  "{{ trigger.body.l.map(a, trigger.body.s).join('') }}",
		"list": "{{ trigger.body.l.map(a, trigger.body.s.substring(0, 10)) }}",
		"n":    "{{ trigger.body.s.replace('a', 'bb').size() }}",
		"f":    "{{ trigger.body.l.map(a, [a, a]).flatten() }}",
	}, s, fullContext()).(map[string]any)
	require.Len(t, out["one"], 1_000_000)
	require.Len(t, out["list"], 4)
	require.Equal(t, int64(500_000), out["n"])
}

func TestCostEstimateAtLoad(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	ctx := fullContext()
	ctx.Names |= Item
	// Three loops deep over the trigger body: rejected when it loads.
	for _, src := range []string{
		"trigger.body.l.all(a, trigger.body.l.all(b, trigger.body.l.all(c, a + b + c >= 0)))",
		"{{ trigger.body.l.exists(a, trigger.body.l.exists(b, trigger.body.l.exists(c, a == b && b == c))) }}",
		"trigger.body.l.map(a, trigger.body.l.map(b, trigger.body.l.map(c, 1))).size() > 0",
	} {
		_, errs := c.Condition(src, ctx)
		require.Error(t, errs.Err(), src)
		require.Contains(t, errs.Error(), "the expression is too expensive: its worst-case cost is ", src)
		require.Contains(t, errs.Error(), "above the limit of 1e+18")
		_, errs = c.Value(map[string]any{"x": "{{ " + src + " }}"}, ctx)
		require.Error(t, errs.Err(), src)
		require.Equal(t, "x", errs[0].Path)
	}
	// What workflows do: the examples of the docs, loops over the body, and
	// one loop inside another, which the runtime limit bounds.
	for _, src := range []string{
		"trigger.kind != 'webhook' || trigger.body.urgent == true",
		"trigger.body.recipients.map(r, r.phone)",
		"trigger.body.items.map(i, i.name).sort().join(', ')",
		"trigger.body.recipients.filter(r, r.phone.startsWith('+49')).map(r, {'phone': r.phone, 'name': r.name})",
		"trigger.body.l.all(a, trigger.body.l.all(b, a != b || a == b))",
		"trigger.body.orders.all(o, o.items.all(i, i.qty > 0))",
		"trigger.body.orders.map(o, o.items.map(i, i.name).join(', ')).join('; ')",
		"'%s: %d items'.format([vars.team, size(trigger.body.items)])",
		"base64.encode(bytes(trigger.body.text)).size() < 1000",
		"steps.lookup.output.contacts.exists(c, c.email == item.email)",
		"trigger.body.text.split(' ').map(w, w.upperAscii()).join(' ')",
	} {
		_, errs := c.Condition(src, ctx)
		if errs != nil {
			require.NotContains(t, errs.Error(), "too expensive", src)
		}
	}
}

func TestCostLimitAtRuntime(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	// Two loops over 5,000 elements are 25 million iterations: far past
	// MaxCost, so the evaluation stops long before it would finish.
	cond, errs := c.Condition("trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))", fullContext())
	require.NoError(t, errs.Err())
	start := time.Now()
	_, err = cond.EvalContext(context.Background(), hostileScope(5_000, 1))
	require.ErrorContains(t, err, "evaluation stopped: it exceeded the cost limit of 10000000")
	t.Logf("stopped after %s", time.Since(start))

	// The same condition over a small body is cheap and true.
	ok, err := cond.EvalContext(context.Background(), hostileScope(50, 1))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestEvalStopsWithContext(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	cond, errs := c.Condition("trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))", fullContext())
	require.NoError(t, errs.Err())
	s := hostileScope(1_500, 1)

	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Millisecond, errors.New("the step timeout of 1ms was reached"))
	defer cancel()
	<-ctx.Done()
	_, err = cond.EvalContext(ctx, s)
	require.ErrorContains(t, err, "evaluation stopped: the step timeout of 1ms was reached")

	v, errs := c.Value(map[string]any{"ok": "{{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}"}, fullContext())
	require.NoError(t, errs.Err())
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = v.RenderContext(canceled, s)
	require.ErrorContains(t, err, `ok: "{{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}": evaluating {{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}: evaluation stopped: context canceled`)
}

func TestSizeOf(t *testing.T) {
	t.Parallel()
	v := map[string]any{"a": []any{"xy", int64(-12), 1.5, true, nil}}
	require.Equal(t, 30, sizeOf(v, 100)) // {"a":["xy",-12,1.5,true,null]} is 30 bytes
	// Ten thousand references to one string: measuring stops at the limit.
	big := make([]any, 10_000)
	x := strings.Repeat("x", 1000)
	for i := range big {
		big[i] = x
	}
	require.Greater(t, sizeOf(big, MaxValueSize), MaxValueSize)
}
