package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/config/*.golden.json")

// TestGoldenHCLEqualsYAML loads the same project written in HCL and in YAML
// and requires both to decode to the model in full.golden.json.
func TestGoldenHCLEqualsYAML(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("..", "..", "testdata", "config", "full.golden.json")
	var got []string
	for _, name := range []string{"full.hcl", "full.yaml"} {
		p, diags := LoadSources([]Source{{Name: name, Data: fixture(t, name)}}, testOptions())
		require.False(t, diags.HasErrors(), "%s:\n%s", name, diags.Error())
		require.Empty(t, diags, "the fixtures raise no warnings")
		js, err := json.MarshalIndent(p, "", "  ")
		require.NoError(t, err)
		got = append(got, string(js)+"\n")
	}
	require.Equal(t, got[0], got[1], "HCL and YAML decode differently")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got[0]), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got[0], "run go test ./internal/config -run Golden -update to accept changes")
}

// TestFullProjectModel checks what the golden JSON leaves out: positions,
// resolved secrets, parsed schedules and masks.
func TestFullProjectModel(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"full.hcl", "full.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := writeProject(t, map[string]string{name: string(fixture(t, name))})
			p, diags := Load(dir, testOptions())
			require.Empty(t, diags)
			require.Equal(t, dir, p.Dir)

			chatapi := p.Providers["chatapi"]
			require.Equal(t, "tok-chatapi", chatapi.Config["token"], "secrets in provider config are resolved")
			require.Equal(t, []string{"token", "uid"}, chatapi.SensitiveFields)
			require.Equal(t, []string{"tok-chatapi"}, chatapi.SensitiveValues)
			require.Equal(t, &RateLimit{Text: "20/s", Count: 20, Per: time.Second, Rate: 20, Burst: 20, Source: LimitConfigured}, chatapi.RateLimit)
			require.Equal(t, filepath.Join(dir, name), chatapi.Range.File)
			require.Equal(t, int64(1), p.Providers["support"].Config["account_id"])

			w := p.Workflows["oncall-digest"]
			cron, hook := w.Triggers[0], w.Triggers[1]
			require.Equal(t, "Europe/Berlin", cron.Location.String())
			berlin := time.Date(2026, 3, 6, 10, 0, 0, 0, cron.Location) // a Friday
			require.Equal(t, time.Date(2026, 3, 9, 9, 0, 0, 0, cron.Location), cron.Cron.Next(berlin))
			require.Equal(t, "hook-oncall", hook.Secret)
			wf, tr, ok := p.Webhook("/oncall/")
			require.True(t, ok)
			require.Same(t, w, wf)
			require.Same(t, hook, tr)

			notify, _ := w.Step("notify")
			require.Equal(t, "chatapi", notify.Provider)
			require.Equal(t, "send_message", notify.Action)
			require.Equal(t, Retry{MaxAttempts: 5, InitialInterval: time.Second, MaxInterval: time.Minute, Multiplier: 2}, notify.Retry)
			each, _ := w.Step("each")
			require.Equal(t, 16, each.Parallelism)
			require.Equal(t, Retry{MaxAttempts: 1, InitialInterval: time.Second, MaxInterval: time.Minute, Multiplier: 2}, each.Retry, "no retry block: one attempt")

			reply, _ := p.Workflows["support-echo"].Step("reply")
			require.Equal(t, Retry{MaxAttempts: DefaultRetryAttempts, InitialInterval: time.Second, MaxInterval: time.Minute, Multiplier: 1.5}, reply.Retry)
			require.Equal(t, "support", p.Workflows["support-echo"].Triggers[0].Provider)

			require.Equal(t, map[string]string{
				"CHATAPI_TOKEN": "tok-chatapi", "CCL_KEY": "key-ccl", "CW_TOKEN": "tok-chatwoot",
				"CW_HOOK": "hook-chatwoot", "HOOK_SECRET": "hook-oncall",
			}, p.Secrets)
			require.Equal(t, []string{"hook-chatwoot", "tok-chatwoot", "hook-oncall", "tok-chatapi", "key-ccl"}, p.MaskValues())
		})
	}
}

// TestRenderLoadedStep walks the engine's path: build a scope, render vars,
// evaluate when and if, render with, for_each and a fallback.
func TestRenderLoadedStep(t *testing.T) {
	t.Parallel()
	p, diags := LoadSources([]Source{{Name: "full.hcl", Data: fixture(t, "full.hcl")}}, testOptions())
	require.Empty(t, diags)
	w := p.Workflows["oncall-digest"]

	scope := expr.NewScope(
		expr.RunData{ID: "r1", Workflow: w.Name, Attempt: 1},
		expr.TriggerData{Kind: "webhook", Time: time.Now(), Body: map[string]any{
			"urgent":     true,
			"recipients": []any{map[string]any{"phone": "1", "name": "Ann"}, map[string]any{"phone": "2", "name": "Bob"}},
		}},
		p.Secrets,
	)
	vars, err := w.Vars.RenderMap(scope)
	require.NoError(t, err)
	scope.SetVars(vars)
	ok, err := w.When.Eval(scope)
	require.NoError(t, err)
	require.True(t, ok)

	notify := w.Steps[0]
	ok, err = notify.If.Eval(scope)
	require.NoError(t, err)
	require.True(t, ok)
	with, err := notify.With.RenderMap(scope)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"phone": "14155550123", "body": "Good morning ops, you are on call today."}, with)
	cfg, err := notify.Override.Config.RenderMap(scope)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"instance_id": "67890"}, cfg)

	scope.SetStep("notify", expr.StepData{Status: "failed", Error: "boom", Attempts: 5, Provider: "chatapi"})
	fb, err := notify.Fallback[0].With.RenderMap(scope)
	require.NoError(t, err)
	require.Equal(t, []any{"{{name}}", "boom"}, fb["params"])

	each := w.Steps[1]
	items, err := each.ForEach.RenderList(scope)
	require.NoError(t, err)
	var bodies []any
	for i, item := range items {
		out, err := each.With.RenderMap(scope.WithItem(item, i))
		require.NoError(t, err)
		bodies = append(bodies, out["body"])
	}
	require.Equal(t, []any{"Hi Ann (1)", "Hi Bob (2)"}, bodies)
}

func TestEventTriggers(t *testing.T) {
	t.Parallel()
	p, diags := LoadSources([]Source{{Name: "full.yaml", Data: fixture(t, "full.yaml")}}, testOptions())
	require.Empty(t, diags)
	got := p.EventTriggers("support", "chatwoot.message_created")
	require.Len(t, got, 1)
	require.Equal(t, "support-echo", got[0].Workflow.Name)
	require.Equal(t, TriggerEvent, got[0].Trigger.Type)
	require.Empty(t, p.EventTriggers("support", "chatwoot.conversation_created"))
	_, _, ok := p.Webhook("nope")
	require.False(t, ok)
}
