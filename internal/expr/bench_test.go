package expr

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchStep is a typical step: a with of four fields, three of them
// templates, and an if condition.
var benchStep = map[string]any{
	"phone":         "{{ vars.phone }}",
	"body":          "Good morning {{ vars.team }}, you are on call today ({{ run.workflow }}).",
	"quoted_msg_id": "false_1@c.us_X",
	"chat_id":       "{{ steps.lookup.output.id }}",
}

// BenchmarkRenderStep renders benchStep's with and evaluates its condition;
// the target is under 5µs. The baseline formats the same strings with
// fmt.Sprintf from the same values.
func BenchmarkRenderStep(b *testing.B) {
	c, err := NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	with, errs := c.Value(benchStep, fullContext())
	if errs != nil {
		b.Fatal(errs)
	}
	cond, errs := c.Condition("vars.team == 'ops' && trigger.kind == 'webhook'", fullContext())
	if errs != nil {
		b.Fatal(errs)
	}
	s := testScope(&testing.T{})

	b.Run("cel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ok, err := cond.Eval(s)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			if _, err := with.Render(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-sprintf", func(b *testing.B) {
		b.ReportAllocs()
		vars := map[string]any{"team": "ops", "phone": "14155550123"}
		for b.Loop() {
			if vars["team"] != "ops" {
				b.Fatal("condition")
			}
			out := map[string]any{
				"phone":         fmt.Sprintf("%v", vars["phone"]),
				"body":          fmt.Sprintf("Good morning %v, you are on call today (%v).", vars["team"], "oncall"),
				"quoted_msg_id": "false_1@c.us_X",
				"chat_id":       fmt.Sprintf("%v", "c-9"),
			}
			_ = out
		}
	})
}

// BenchmarkCompile measures compiling the step without the cache's help.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewCompiler()
		if err != nil {
			b.Fatal(err)
		}
		if _, errs := c.Value(benchStep, fullContext()); errs != nil {
			b.Fatal(errs)
		}
	}
}

// BenchmarkRenderLoop renders a template with a loop over the trigger body:
// the kind of expression that is metered against MaxCost, and evaluated
// under its context when the context has a deadline.
func BenchmarkRenderLoop(b *testing.B) {
	c, err := NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	with, errs := c.Value(map[string]any{"to": "{{ trigger.body.recipients.map(r, r.phone).join(', ') }}"}, fullContext())
	if errs != nil {
		b.Fatal(errs)
	}
	s := testScope(&testing.T{})
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := with.Render(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deadline", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := with.RenderContext(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
