package expr

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestScopeReadsWhatItWasGiven checks that what a Scope makes on first use
// (run), boxes when read (now) or shares (absent maps, maps of strings)
// reads as the values it was given: before and after SetNow and SetStep,
// from derived Scopes, and from many goroutines at once.
func TestScopeReadsWhatItWasGiven(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler()
	require.NoError(t, err)
	s := NewScope(RunData{ID: "run-7", Workflow: "wf", Attempt: 2, SignalURLs: map[string]string{"ack": "https://x/ack"}},
		TriggerData{Kind: "webhook", Headers: map[string]string{"x-a": "1", "x-b": "2"}}, nil)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	s.SetNow(at)
	ctx := Context{Where: "test", Names: Runtime | Steps | Item, Steps: []string{"a"}, AllSteps: []string{"a"}}
	eval := func(s *Scope, src string) bool {
		t.Helper()
		cond, errs := c.Condition(src, ctx)
		require.NoError(t, errs.Err(), src)
		ok, err := cond.Eval(s)
		require.NoError(t, err, src)
		return ok
	}
	for _, src := range []string{
		"run.id == 'run-7' && run.workflow == 'wf' && run.attempt == 2",
		"run.signal_url.ack == 'https://x/ack' && size(run.signal_url) == 1",
		"now == timestamp('2026-12-07T11:00:00Z')",
		"trigger.headers['x-a'] == '1' && trigger.headers == {'x-a': '1', 'x-b': '2'} && 'x-b' in trigger.headers",
		"trigger.query == {} && size(trigger.query) == 0 && !has(trigger.query.x)",
		"trigger.time == null && trigger.scheduled_time == null",
		"size(vars) == 0",
		"!has(steps.a)",
	} {
		require.True(t, eval(s, src), src)
	}
	// Many goroutines make run at once, from derived Scopes too.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if !eval(s.WithItem("x", i), "run.id == 'run-7' && item == 'x'") {
				t.Error("run read wrongly")
			}
		})
	}
	wg.Wait()
	s.SetStep("a", StepData{Status: "succeeded", Attempts: 1})
	later := at.Add(time.Minute)
	s.SetNow(later)
	require.True(t, eval(s, "steps.a.status == 'succeeded' && now == timestamp('2026-12-07T11:01:00Z')"))
	// Another Scope's steps are its own.
	other := NewScope(RunData{}, TriggerData{}, nil)
	require.True(t, eval(other, "!has(steps.a) && run.id == '' && size(run.signal_url) == 0"))
}

// TestNewScopeAllocations checks that a Scope costs few allocations: the
// Scope, the trigger map and the boxed kind and time, not a copy of each
// map of strings, run or the now an expression may never read.
func TestNewScopeAllocations(t *testing.T) {
	run := RunData{ID: "run-7", Workflow: "wf", Attempt: 1, SignalURLs: map[string]string{"ack": "u"}}
	trig := TriggerData{Kind: "webhook", Time: time.Now(), Body: map[string]any{"vip": true},
		Headers: map[string]string{"content-type": "application/json", "user-agent": "x"}, Query: map[string]string{"a": "b"}}
	secrets := map[string]string{"TOKEN": "x"}
	n := testing.AllocsPerRun(100, func() {
		s := NewScope(run, trig, secrets)
		s.SetNow(time.Now())
	})
	require.LessOrEqual(t, n, 5.0)
}
