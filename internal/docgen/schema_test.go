package docgen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/docgen"
	"github.com/heraldhq/herald/sdk"
)

// TestSchemaAcceptsTheExampleProject validates the YAML files of the
// example project in workflows/, which the loader accepts with the bundled
// plugins, against the schema both as the committed docs/herald.schema.json
// types them (instances named like their type) and as `herald schema --dir
// workflows` does.
func TestSchemaAcceptsTheExampleProject(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "workflows")
	_, diags := config.Load(dir, loadOptions(t))
	require.False(t, diags.HasErrors(), "the example project loads:\n%s", diags.Error())
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for name, specs := range map[string]map[string]*sdk.Spec{"by type": bundledSpecs(t), "by project": projectSpecs(t)} {
		s := compile(t, docgen.WorkflowSchema(specs))
		for _, f := range files {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, validate(t, s, src), "%s against the schema %s", f, name)
		}
	}
}

// TestSchemaJudgesTheFullFixtureAsTheLoaderDoes validates
// testdata/config/full.yaml, the project of SPEC §2 in YAML: every key of
// the workflow model is valid, and against the bundled plugins' schemas the
// schema and the loader come to the same verdict.
func TestSchemaJudgesTheFullFixtureAsTheLoaderDoes(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "config", "full.yaml"))
	require.NoError(t, err)
	require.NoError(t, validate(t, compile(t, docgen.WorkflowSchema(nil)), src), "the model alone accepts full.yaml")

	_, diags := config.LoadSources([]config.Source{{Name: "full.yaml", Data: src}}, loadOptions(t))
	err = validate(t, compile(t, docgen.WorkflowSchema(projectSpecs(t))), src)
	if diags.HasErrors() {
		require.Error(t, err, "the loader refuses full.yaml with the bundled plugins, the schema must too:\n%s", diags.Error())
	} else {
		require.NoError(t, err, "the loader accepts full.yaml with the bundled plugins, the schema must too")
	}
}

// TestSchemaTypesWithByInstance shows the limitation the schema documents:
// outside a project it types the with of instances named like their type
// only; with the project's instances it types them all.
func TestSchemaTypesWithByInstance(t *testing.T) {
	t.Parallel()
	doc := []byte(`
workflows:
  w:
    steps:
      - id: blast
        uses: whatsapp_cc.send_blast
        with: {search_spec: {tag: ops}, fb_template: t, language: en, colour: red}
`)
	require.NoError(t, validate(t, compile(t, docgen.WorkflowSchema(bundledSpecs(t))), doc),
		"by type, whatsapp_cc is an unknown instance: any with goes")
	err := validate(t, compile(t, docgen.WorkflowSchema(projectSpecs(t))), doc)
	require.Error(t, err, "by project, whatsapp_cc is a chitchatlabs instance")
	require.Contains(t, err.Error(), "colour")
}

// TestSchemaAgreesWithTheLoader loads each document with the loader and
// validates it with the schema: both must accept it, or both refuse it.
// The documents declare instances named like their types and the
// instances whatsapp_cc and support, as projectSpecs does.
func TestSchemaAgreesWithTheLoader(t *testing.T) {
	t.Parallel()
	s := compile(t, docgen.WorkflowSchema(projectSpecs(t)))
	providers := `
providers:
  chatapi:
    config: {instance_id: "12345", token: "{{ secrets.CHATAPI_TOKEN }}"}
    rate_limit: 20/s
  whatsapp_cc:
    type: chitchatlabs
    config: {api_key: "{{ secrets.CCL_KEY }}"}
  support:
    type: chatwoot
    config: {base_url: "https://chat.example.com", account_id: 1, inbox_id: 3, api_access_token: "{{ secrets.CW_TOKEN }}"}
`
	// step wraps the YAML of one step into a workflow.
	step := func(yaml string) string {
		return "workflows:\n  w:\n    steps:\n      - " + strings.ReplaceAll(strings.TrimSpace(yaml), "\n", "\n        ") + "\n"
	}
	// workflow wraps the keys of a workflow that sends one message.
	workflow := func(yaml string) string {
		return "workflows:\n  w:\n    " + strings.ReplaceAll(strings.TrimSpace(yaml), "\n", "\n    ") +
			"\n    steps:\n      - {id: s, uses: chatapi.send_message, with: {phone: \"14155550123\", body: hi}}\n"
	}
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"the providers", providers, true},
		{"minimal step", step(`{id: s, uses: chatapi.send_message, with: {phone: "14155550123", body: hi}}`), true},
		{"unknown top-level key", "workflow:\n  w: {}\n", false},
		{"unknown workflow key", "workflows:\n  w:\n    step: []\n", false},
		{"workflow without steps", "workflows:\n  w:\n    description: nothing\n", false},
		{"empty steps", "workflows:\n  w:\n    steps: []\n", false},
		{"invalid workflow name", "workflows:\n  -w:\n    steps: [{id: s, uses: chatapi.status}]\n", false},
		{"invalid instance name", "providers:\n  1chat:\n    type: chatapi\n    config: {uid: \"{{ secrets.UID }}\"}\n", false},
		{"unknown provider key", "providers:\n  chat2:\n    type: chatapi\n    settings: {}\n    config: {uid: \"{{ secrets.UID }}\"}\n", false},
		{"config of the type the name says", "providers:\n  chatwoot:\n    config: {base_url: \"https://c.example.com\", account_id: 1, inbox_id: 2, api_access_token: \"{{ secrets.T }}\"}\n", true},
		{"config missing a required field", "providers:\n  chatwoot:\n    config: {account_id: 1, inbox_id: 2, api_access_token: \"{{ secrets.T }}\"}\n", false},
		{"config of the type attribute", "providers:\n  desk:\n    type: chatwoot\n    config: {base_url: \"https://c.example.com\", account_id: 1, inbox_id: 2, api_access_token: \"{{ secrets.T }}\"}\n", true},
		{"config of another type", "providers:\n  desk:\n    type: chatwoot\n    config: {api_key: \"{{ secrets.T }}\"}\n", false},
		{"config field of the wrong type", "providers:\n  chatwoot:\n    config: {base_url: \"https://c.example.com\", account_id: one, inbox_id: 2, api_access_token: \"{{ secrets.T }}\"}\n", false},
		{"rate limit with a duration", "providers:\n  chat2:\n    type: chatapi\n    config: {uid: \"{{ secrets.UID }}\"}\n    rate_limit: 5/10s\n", true},
		{"rate limit in words", "providers:\n  chat2:\n    type: chatapi\n    config: {uid: \"{{ secrets.UID }}\"}\n    rate_limit: 20 per second\n", false},
		{"unknown step key", step(`{id: s, uses: chatapi.status, retries: 3}`), false},
		{"invalid step id", step(`{id: 1s, uses: chatapi.status}`), false},
		{"uses without an action", step(`{id: s, uses: chatapi}`), false},
		{"unknown action", step(`{id: s, uses: chatapi.send_mesage, with: {phone: "14155550123", body: hi}}`), false},
		{"timeout as a number", step(`{id: s, uses: chatapi.status, timeout: 30}`), false},
		{"timeout as a duration", step(`{id: s, uses: chatapi.status, timeout: 1m30s}`), true},
		{"timeout in words", step(`{id: s, uses: chatapi.status, timeout: 30 seconds}`), false},
		{"continue_on_error as a word", step(`{id: s, uses: chatapi.status, continue_on_error: "yes"}`), false},
		{"parallelism without for_each", step(`{id: s, uses: chatapi.status, parallelism: 4}`), false},
		{"for_each over a template", step(`{id: s, uses: chatapi.send_message, for_each: "{{ trigger.body.to }}", parallelism: 4, with: {phone: "{{ item }}", body: hi}}`), true},
		{"for_each over a list", step(`{id: s, uses: chatapi.send_message, for_each: ["14155550123"], with: {phone: "{{ item }}", body: hi}}`), true},
		{"for_each over plain text", step(`{id: s, uses: chatapi.send_message, for_each: everyone, with: {phone: "{{ item }}", body: hi}}`), false},
		{"parallelism as text", step(`{id: s, uses: chatapi.send_message, for_each: [a], parallelism: "16", with: {phone: "{{ item }}", body: hi}}`), false},
		{"unknown input field", step(`{id: s, uses: chatapi.send_message, with: {phone: "14155550123", body: hi, colour: red}}`), false},
		{"input not matching its pattern", step(`{id: s, uses: chatapi.send_message, with: {phone: "+1 415", body: hi}}`), false},
		{"template where the pattern applies", step(`{id: s, uses: chatapi.send_message, with: {phone: "{{ trigger.body.phone }}", body: hi}}`), true},
		{"template for a list", step(`{id: s, uses: chatapi.send_message, with: {phone: "1415555", body: hi, mentioned_phones: "{{ trigger.body.phones }}"}}`), true},
		{"input of the wrong type", step(`{id: s, uses: chatapi.send_message, with: {phone: "14155550123", body: hi, mentioned_phones: "14155550123"}}`), false},
		{"the whole input as one template", step(`{id: s, uses: chatapi.send_message, with: "{{ trigger.body }}"}`), true},
		{"missing required input", step(`{id: s, uses: chatapi.send_message, with: {phone: "14155550123"}}`), false},
		{"missing with", step(`{id: s, uses: chatapi.send_message}`), false},
		{"no input needed", step(`{id: s, uses: chatapi.status}`), true},
		{"both of exactly one", step(`{id: s, uses: chatapi.send_message, with: {phone: "14155550123", chat_id: "1@c.us", body: hi}}`), false},
		{"enum input", step(`{id: s, uses: whatsapp_cc.send_single, with: {to: {mobile: "14155550123"}, fb_template: t, language: en, file: {type: gif, link: "https://x.example.com/a.gif"}}}`), false},
		{"nested required input", step(`{id: s, uses: whatsapp_cc.send_single, with: {to: {name: Ann}, fb_template: t, language: en}}`), false},
		{"at least one of", step(`{id: s, uses: support.send_message, with: {contact: {name: Ann}, content: hi}}`), false},
		{"instance named differently from its type", step(`{id: s, uses: support.send_message, with: {contact: {email: a@example.com}, content: hi}}`), true},
		{"override config of the instance", step(`{id: s, uses: chatapi.status, override: {config: {instance_id: "67890"}}}`), true},
		{"unknown override config field", step(`{id: s, uses: chatapi.status, override: {config: {instance: "67890"}}}`), false},
		{"override body is free-form", step(`{id: s, uses: chatapi.status, override: {body: {anything: {goes: [1]}}}}`), true},
		{"unknown override key", step(`{id: s, uses: chatapi.status, override: {headers: {}}}`), false},
		{"retry", step(`{id: s, uses: chatapi.status, retry: {max_attempts: 5, initial_interval: 500ms, max_interval: 1m, multiplier: 1.5}}`), true},
		{"retry multiplier below 1", step(`{id: s, uses: chatapi.status, retry: {multiplier: 0.5}}`), false},
		{"retry without attempts", step(`{id: s, uses: chatapi.status, retry: {max_attempts: 0}}`), false},
		{"a wait step", step(`{id: s, wait: {duration: 10m}}`), true},
		{"a wait with duration and until", step(`{id: s, wait: {duration: 10m, until: "{{ now }}"}}`), false},
		{"a wait_for on an event and a signal", step(`{id: s, wait_for: {event: chatapi.ack, match: "event.status == 'viewed'", signal: ack, timeout: 5m}}`), true},
		{"a wait_for without timeout", step(`{id: s, wait_for: {signal: ack}}`), false},
		{"a send window", step(`{id: s, uses: chatapi.status, for_each: "{{ [1] }}", window: {days: MON-FRI, hours: "08:00-21:00", timezone: "{{ item.tz }}", outside: skip}}`), true},
		{"a send window without timezone", step(`{id: s, uses: chatapi.status, window: {hours: "08:00-21:00"}}`), false},
		{"a send window with an unknown outside", step(`{id: s, uses: chatapi.status, window: {hours: "08:00-21:00", timezone: UTC, outside: later}}`), false},
		{"a wait_for without event or signal", step(`{id: s, wait_for: {timeout: 5m}}`), false},
		{"a step with uses and wait", step(`{id: s, uses: chatapi.status, wait: {duration: 1m}}`), false},
		{"a step with neither uses nor wait", step(`{id: s}`), false},
		{"one fallback", step(`{id: s, uses: chatapi.status, fallback: {uses: support.search_contacts, with: {q: ops}}}`), true},
		{"a list of fallbacks", step(`{id: s, uses: chatapi.status, fallback: [{uses: support.search_contacts, with: {q: ops}}, {uses: chatapi.status}]}`), true},
		{"fallback with a retry", step(`{id: s, uses: chatapi.status, fallback: {uses: chatapi.status, retry: {max_attempts: 2}}}`), false},
		{"fallback input checked", step(`{id: s, uses: chatapi.status, fallback: {uses: support.search_contacts, with: {query: ops}}}`), false},
		{"cron trigger", workflow(`triggers: [{type: cron, schedule: "0 9 * * MON-FRI", timezone: Europe/Berlin, catchup: all}]`), true},
		{"cron trigger without schedule", workflow(`triggers: [{type: cron, timezone: UTC}]`), false},
		{"cron trigger catchup", workflow(`triggers: [{type: cron, schedule: "@daily", catchup: sometimes}]`), false},
		{"webhook trigger", workflow(`triggers: [{type: webhook, path: /alerts/db/, secret: "{{ secrets.HOOK }}"}]`), true},
		{"webhook trigger with a schedule", workflow(`triggers: [{type: webhook, path: alerts, schedule: "@daily"}]`), false},
		{"webhook path with a space", workflow(`triggers: [{type: webhook, path: "my alerts"}]`), false},
		{"event trigger", workflow(`triggers: [{type: event, event: chatwoot.message_created, provider: support}]`), true},
		{"event trigger without event", workflow(`triggers: [{type: event, provider: support}]`), false},
		{"trigger without type", workflow(`triggers: [{schedule: "@daily"}]`), false},
		{"unknown trigger type", workflow(`triggers: [{type: interval, every: 1h}]`), false},
		{"concurrency", workflow(`concurrency: {limit: 2, on_limit: skip}`), true},
		{"concurrency on_limit", workflow(`concurrency: {limit: 2, on_limit: drop}`), false},
		{"concurrency limit 0", workflow(`concurrency: {limit: 0}`), false},
		{"vars and when", workflow("vars: {team: ops, phones: [\"1\"]}\nwhen: \"vars.team == 'ops'\""), true},
		{"description as a list", workflow(`description: [a, b]`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sources := []config.Source{{Name: "providers.yaml", Data: []byte(providers)}}
			if tt.doc != providers {
				sources = append(sources, config.Source{Name: "case.yaml", Data: []byte(tt.doc)})
			}
			_, diags := config.LoadSources(sources, loadOptions(t))
			err := validate(t, s, []byte(tt.doc))
			if tt.valid {
				require.False(t, diags.HasErrors(), "the loader refuses it:\n%s\n%s", diags.Error(), tt.doc)
				require.NoError(t, err, "the schema refuses it:\n%s", tt.doc)
				return
			}
			require.True(t, diags.HasErrors(), "the loader accepts it:\n%s", tt.doc)
			require.Error(t, err, "the schema accepts what the loader refuses (%s):\n%s", diags.Error(), tt.doc)
		})
	}
}
