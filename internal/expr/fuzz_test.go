package expr

import (
	"testing"
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
