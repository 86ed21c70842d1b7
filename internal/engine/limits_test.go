package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// slowBody makes trigger.body.l.all(a, trigger.body.l.all(b, ...)) run for
// seconds: 36 million iterations.
func slowBody() map[string]any {
	l := make([]any, 6_000)
	for i := range l {
		l[i] = float64(i)
	}
	return map[string]any{"l": l}
}

func TestSlowTemplateFailsAtTheStepTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "slow" {
  step "send" {
    uses    = "primary.send"
    with    = { to = "{{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}" }
    timeout = "100ms"
    retry { max_attempts = 3 }
  }
}`)
	start := time.Now()
	v := b.run(t, "slow", slowBody())
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, "failed", v.Status)
	require.Equal(t, "permanent", v.Steps[0].ErrorClass)
	require.Zero(t, v.Steps[0].Attempts)
	require.Contains(t, v.Steps[0].Error, `with: to: "{{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}": evaluating {{ trigger.body.l.all(a, trigger.body.l.all(b, a >= 0)) }}: evaluation stopped: the step timeout of 100ms was reached`)
	require.Empty(t, b.fake.Calls())
}

func TestStoppingTheHostInterruptsAnExpression(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "slow-if" {
  step "send" {
    uses = "primary.send"
    if   = "trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))"
    with = { to = "a" }
  }
}
workflow "slow-when" {
  when = "trigger.body.l.all(a, trigger.body.l.all(b, a >= 0))"
  step "send" {
    uses = "primary.send"
    with = { to = "a" }
  }
}`)
	for _, wf := range []string{"slow-if", "slow-when"} {
		run, _, err := b.engine.Create(context.Background(), wf, engine.Trigger{Kind: engine.KindManual, Body: slowBody()}, "", 0)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err = b.engine.Execute(ctx, run.ID)
		cancel()
		require.ErrorIs(t, err, engine.ErrInterrupted, wf)
		require.Less(t, time.Since(start), 2*time.Second, wf)
		// The run is not failed: it resumes on the next start.
		got, err := b.store.GetRun(context.Background(), run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, got.Status, wf)
		recs, err := b.store.StepRecords(context.Background(), run.ID)
		require.NoError(t, err)
		require.Empty(t, recs, wf)
	}
	require.Empty(t, b.fake.Calls())
}
