package expr

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzTemplate compiles arbitrary strings as templates and conditions and
// renders whatever compiles: nothing may panic, and a compiled template
// renders or fails with an error.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{
		"plain", "{{ vars.team }}", "Hi {{ item.name }} {{ index }}", `{{ "{{" }}`, "{{ '{{name}}' }}",
		"{{ {'a': {'b': 1}} }}", "{{ trigger.body.recipients.map(r, r.phone) }}", "{{ r'\\' }}",
		"{{ '''x}}y''' }}", "{{", "}}", "{{ }}", "{{ steps.lookup.output.id }}", "{{ secrets.TOKEN }}",
		"trigger.kind != 'webhook' || trigger.body.urgent == true", "{{ now }}", "{{ base64.decode('aGk=') }}",
		"{{ [1, 2.5, 'x', null, true] }} and {{ {'k': now} }}", "{{ 1 / 0 }}", "{{ trigger.body.?x.orValue(1) }}",
	} {
		f.Add(seed)
	}
	ctx := fullContext()
	ctx.Names |= Item
	f.Fuzz(func(t *testing.T, src string) {
		// A compiler per input keeps the program cache from growing.
		c, err := NewCompiler()
		if err != nil {
			t.Fatal(err)
		}
		s := testScope(t).WithItem(map[string]any{"name": "Ann"}, 1)
		if v, errs := c.Value(map[string]any{"x": src, "l": []any{src}}, ctx); errs == nil {
			if _, err := v.Render(s); err != nil && err.Error() == "" {
				t.Fatal("empty error")
			}
		}
		if cond, errs := c.Condition(src, ctx); errs == nil {
			_, _ = cond.Eval(s)
		}
	})
}

// hostileBody builds a trigger body from a few numbers: a list l of n
// numbers, a string s of size bytes, and a value d nested depth levels deep
// in lists and maps.
func hostileBody(n uint16, size uint32, depth uint8) map[string]any {
	l := make([]any, int(n)%20_000)
	for i := range l {
		l[i] = float64(i % 7)
	}
	var d any = "leaf"
	for i := range int(depth) % 200 {
		if i%2 == 0 {
			d = []any{d, d}
		} else {
			d = map[string]any{"k": d, "n": float64(i)}
		}
	}
	return map[string]any{"l": l, "s": strings.Repeat("ab", int(size)%400_000/2), "d": d}
}

// checkBounded renders v under a deadline and checks what a hostile input
// must never get: a panic, a rendered value over the limits, or an
// evaluation that outlives its context by more than a moment.
func checkBounded(t *testing.T, v *Value, s *Scope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	out, err := v.RenderContext(ctx, s)
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("rendering took %s despite a 2s deadline", took)
	}
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error")
		}
		return
	}
	if n := sizeOf(out, MaxInputSize); n > MaxInputSize {
		t.Fatalf("rendered %d bytes, over the %d limit", n, MaxInputSize)
	}
}

// FuzzHostileExpression compiles arbitrary expressions and evaluates those
// that load against large and deeply nested bodies: whatever an expression
// does, it must stay within the size limits, the cost limit and its
// deadline, without panicking or exhausting memory.
func FuzzHostileExpression(f *testing.F) {
	for _, seed := range []struct {
		src   string
		n     uint16
		size  uint32
		depth uint8
	}{
		{"trigger.body.l.map(a, trigger.body.s).join('')", 5_000, 300_000, 0},
		{"trigger.body.l.map(a, trigger.body.s)", 5_000, 300_000, 0},
		{"x {{ trigger.body.l.map(a, trigger.body.s) }} y", 5_000, 300_000, 0},
		{"trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))", 5_000, 0, 0},
		{"trigger.body.l.all(a, trigger.body.l.all(b, trigger.body.l.all(c, true)))", 500, 0, 0},
		{"trigger.body.s.replace('a', trigger.body.s)", 0, 300_000, 0},
		{"'%s%s%s%s'.format([trigger.body.s, trigger.body.s, trigger.body.s, trigger.body.s])", 0, 300_000, 0},
		{"trigger.body.l.map(a, trigger.body.l).flatten()", 5_000, 0, 0},
		{"trigger.body.d", 0, 0, 120},
		{"string(trigger.body.d)", 0, 0, 30},
		{"trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s + trigger.body.s", 0, 300_000, 0},
		{"lists.range(1000000).map(i, trigger.body.s)", 0, 300_000, 0},
		{"trigger.body.s.split('').join(trigger.body.s)", 0, 2_000, 0},
		{"base64.encode(bytes(trigger.body.s + trigger.body.s))", 0, 300_000, 0},
		{"trigger.body.l.map(a, [trigger.body.d, trigger.body.d])", 1_000, 0, 40},
		{"strings.quote(trigger.body.s)", 0, 300_000, 0},
		{"trigger.body.s.matches('(a|b)*c')", 0, 300_000, 0},
	} {
		f.Add(seed.src, seed.n, seed.size, seed.depth)
	}
	ctx := fullContext()
	f.Fuzz(func(t *testing.T, src string, n uint16, size uint32, depth uint8) {
		c, err := NewCompiler()
		if err != nil {
			t.Fatal(err)
		}
		if !HasTemplate(src) {
			src = "{{ " + src + " }}"
		}
		v, errs := c.Value(map[string]any{"x": src, "y": []any{src}}, ctx)
		if errs != nil {
			return
		}
		s := NewScope(RunData{ID: "r"}, TriggerData{Kind: "webhook", Body: hostileBody(n, size, depth)}, nil)
		checkBounded(t, v, s)
	})
}

// FuzzHostileBody evaluates the templates that once took hosts down, and
// ordinary ones, against arbitrary JSON bodies.
func FuzzHostileBody(f *testing.F) {
	for _, seed := range []string{
		`{"l":[1,2,3],"s":"abc"}`, `{"l":[],"s":""}`, `{"l":"not a list","s":1}`, `[[[[[[[[[[]]]]]]]]]]`,
		`{"l":[{"l":[{"l":[1]}]}],"s":"` + strings.Repeat("x", 1000) + `"}`, `null`, `{"l":[null,true,"x",1.5e300]}`,
	} {
		f.Add([]byte(seed), uint16(1))
	}
	c, err := NewCompiler()
	if err != nil {
		f.Fatal(err)
	}
	v, errs := c.Value(map[string]any{
		"join":    "{{ trigger.body.l.map(a, trigger.body.s).join('') }}",
		"list":    "{{ trigger.body.l.map(a, trigger.body.l) }}",
		"text":    "items: {{ trigger.body.l }} and {{ trigger.body }}",
		"flat":    "{{ trigger.body.l.map(a, trigger.body.l).flatten() }}",
		"replace": "{{ string(trigger.body.s).replace('x', string(trigger.body.s)) }}",
		"all":     "{{ trigger.body.l.all(a, trigger.body.l.all(b, a == b || true)) }}",
		"format":  "{{ '%s/%s'.format([trigger.body.l, trigger.body.s]) }}",
		"whole":   "{{ trigger.body }}",
	}, fullContext())
	if errs != nil {
		f.Fatal(errs)
	}
	f.Fuzz(func(t *testing.T, data []byte, repeat uint16) {
		var body any
		if json.Unmarshal(data, &body) != nil {
			return
		}
		// Repeat a list body's elements to make it large cheaply.
		if m, ok := body.(map[string]any); ok {
			if l, ok := m["l"].([]any); ok && len(l) > 0 {
				for len(l) < int(repeat)%5_000 {
					l = append(l, l...)
				}
				m["l"] = l
			}
		}
		s := NewScope(RunData{ID: "r"}, TriggerData{Kind: "webhook", Body: body}, nil)
		checkBounded(t, v, s)
	})
}
