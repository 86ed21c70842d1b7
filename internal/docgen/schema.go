package docgen

import (
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/sdk"
)

// SchemaDialect is the JSON Schema draft the generated schema declares.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// The loader's naming rules, as JSON Schema patterns. The loader keeps its
// own as unexported regular expressions; schema_test.go holds these against
// it by loading the same documents through both.
const (
	instanceNamePattern = `^[A-Za-z][A-Za-z0-9_-]*$`
	workflowNamePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	stepIDPattern       = `^[A-Za-z_][A-Za-z0-9_-]*$`
	// typePattern is the plugin host's rule for provider types: a type
	// outside it never finds a herald-provider-<type> binary.
	typePattern = `^[a-z][a-z0-9_]*$`
	usesPattern = `^[A-Za-z][A-Za-z0-9_-]*\..+$`
	// webhookPathPattern allows the leading and trailing slashes the loader
	// trims.
	webhookPathPattern = `^/*[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/*$`
	// sensitivePattern is the shape of an entry of a webhook trigger's
	// sensitive list, as the loader checks it.
	sensitivePattern = "^(body(\\.[^.]+)*|headers\\.[!#$%&'*+.^_`|~0-9A-Za-z-]+|query\\..+|[!#$%&'*+^_`|~0-9A-Za-z-]+)$"
	// durationPattern is a positive Go duration, as time.ParseDuration reads
	// it: "500ms", "30s", "1m30s", "1.5h".
	durationPattern  = `^\+?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$`
	rateLimitPattern = `^\s*\+?0*[1-9]\d*\s*/\s*(s|sec|second|m|min|minute|h|hour|\+?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)\s*$`
	// templatePattern finds the {{ that opens a template, as
	// expr.HasTemplate does.
	templatePattern = `\{\{`
)

// ref returns a reference to a definition of the schema.
func ref(def string) map[string]any { return map[string]any{"$ref": "#/$defs/" + def} }

// WorkflowSchema returns the JSON Schema (draft 2020-12) of a Herald YAML
// project file, for editors and CI. It is built from the workflow model's
// keys and defaults and from the plugins' own schemas:
//
//   - providers: each instance's type, config and rate_limit. The config is
//     typed by the instance's type: its type attribute when set, else its
//     name, as the loader defaults it.
//   - workflows: description, vars, triggers (one of cron, webhook or event,
//     by type), when, concurrency and steps, with every step and fallback
//     key. When a step's uses names a known instance, the action must be
//     one of the instance's actions, with must match that action's input
//     schema, and override.config the instance's config schema (every
//     field optional).
//
// specs maps every provider instance name a uses may name to its plugin's
// Spec. Outside a project, where instance names are unknown, pass each
// plugin under its type: the schema then types the with of an instance
// named like its type (chatapi.send_message) and accepts any with for other
// instances. Wherever a typed value is expected, a string holding a {{ }}
// template is accepted too, since its type is only known at run time.
func WorkflowSchema(specs map[string]*sdk.Spec) map[string]any {
	names := make([]string, 0, len(specs))
	for name := range specs {
		names = append(names, name)
	}
	slices.Sort(names)
	byType := map[string]*sdk.Spec{}
	var types, uses, events, eventSources []string
	for _, name := range names {
		s := specs[name]
		if _, seen := byType[s.Type]; !seen {
			byType[s.Type] = s
			types = append(types, s.Type)
		}
		for _, a := range s.Actions {
			uses = append(uses, name+"."+a.Name)
		}
		if len(s.Events) > 0 {
			eventSources = append(eventSources, name)
		}
		for _, e := range s.Events {
			if !slices.Contains(events, e.Name) {
				events = append(events, e.Name)
			}
		}
	}
	slices.Sort(types)
	slices.Sort(events)

	defs := map[string]any{
		"template": map[string]any{
			"type":        "string",
			"pattern":     templatePattern,
			"description": "A {{ CEL }} template. A string that is exactly one {{ ... }} yields the expression's typed value when the step runs, so it may stand for a value of any type.",
		},
		"provider": providerSchema(byType, types),
		"workflow": workflowSchema(),
		"trigger":  triggerSchema(),
		"cron":     cronSchema(),
		"webhook":  webhookSchema(),
		"event":    eventSchema(events, eventSources),
		"step":     stepSchema(uses, len(names) > 0),
		"fallback": fallbackSchema(uses, len(names) > 0),
		"retry":    retrySchema(),
		"override": overrideSchema(),
		"wait":     waitSchema(),
		"wait_for": waitForSchema(events),
		"window":   windowSchema(),
	}
	for _, t := range types {
		s := byType[t]
		cfg := templatedObject(s.Config.JSONSchema())
		cfg["description"] = "Configuration of a " + t + " instance. Values may read secrets as {{ secrets.NAME }}."
		defs["config."+t] = cfg
		over := templatedObject(optional(s.Config).JSONSchema())
		over["description"] = "Changes to the " + t + " instance's configuration for this call; every field is optional."
		defs["override_config."+t] = over
		for _, a := range s.Actions {
			in := a.Input.JSONSchema()
			if a.Description != "" {
				in["description"] = a.Description
			}
			defs["input."+t+"."+a.Name] = templated(in)
		}
		defs["named_provider."+t] = namedProviderSchema(s)
	}
	if len(names) > 0 {
		defs["uses_rules"] = usesRules(specs, names)
	}

	providerProps := map[string]any{}
	for _, t := range types {
		providerProps[t] = ref("named_provider." + t)
	}
	return map[string]any{
		"$schema":              SchemaDialect,
		"title":                "Herald project file (YAML)",
		"description":          "Providers and workflows of a Herald project. A project is a directory of *.hcl, *.yaml and *.yml files merged together; any file may declare providers and workflows.",
		"$comment":             "Generated from Herald's workflow model and the provider plugins' schemas by `herald schema` (docs/herald.schema.json: go generate ./internal/docgen); do not edit.",
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"providers": map[string]any{
				"type":                 "object",
				"description":          "Provider instances by name. A step calls an action of one as <instance>.<action>.",
				"propertyNames":        map[string]any{"pattern": instanceNamePattern},
				"properties":           providerProps,
				"additionalProperties": ref("provider"),
			},
			"required_plugins": map[string]any{
				"type":          "object",
				"description":   "Plugin versions the project accepts, by provider type. Every command that loads the project refuses a plugin whose version does not satisfy the constraint.",
				"propertyNames": map[string]any{"pattern": typePattern},
				"additionalProperties": map[string]any{
					"type":                 "object",
					"additionalProperties": false,
					"required":             []string{"version"},
					"properties": map[string]any{
						"version": map[string]any{
							"type":        "string",
							"minLength":   1,
							"description": "Version constraint in Terraform's syntax: comma-separated conditions such as \">= 1.2, < 2.0\" or \"~> 1.4\".",
							"examples":    []string{">= 1.2, < 2.0"},
						},
					},
				},
			},
			"workflows": map[string]any{
				"type":                 "object",
				"description":          "Workflows by name.",
				"propertyNames":        map[string]any{"pattern": workflowNamePattern},
				"additionalProperties": ref("workflow"),
			},
		},
		"$defs": defs,
	}
}

// WriteSchema writes a schema as indented JSON with a final newline; map
// keys come out sorted, so the same schema always gives the same bytes.
func WriteSchema(w io.Writer, schema map[string]any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(schema)
}

func providerSchema(byType map[string]*sdk.Spec, types []string) map[string]any {
	typ := map[string]any{
		"type":        "string",
		"pattern":     typePattern,
		"description": "The plugin type, the <type> of the herald-provider-<type> binary. Defaults to the instance name.",
	}
	if len(types) > 0 {
		typ["examples"] = types
	}
	s := map[string]any{
		"type":                 "object",
		"description":          "A provider instance: a plugin type with one configuration.",
		"additionalProperties": false,
		"properties": map[string]any{
			"type": typ,
			"config": map[string]any{
				"type":        "object",
				"description": "The instance configuration, checked against the plugin's config schema. Values may read secrets only, as {{ secrets.NAME }}; they are resolved when the project loads.",
			},
			"rate_limit": map[string]any{
				"type":        "string",
				"pattern":     "^none$|" + rateLimitPattern,
				"description": "Calls allowed per period, enforced by the host for this instance across all workflows: <count>/<unit> with unit s, m, h or a duration, such as 20/s, 100/m or 5/10s. Replaces the limit the plugin declares; \"none\" turns that off.",
				"examples":    []string{"20/s", "100/m", "5/10s", "none"},
			},
			"recipient_rate_limit": map[string]any{
				"type":        "string",
				"pattern":     "^none$|" + rateLimitPattern,
				"description": "Calls allowed per period to one recipient, for every action whose plugin names the recipient (see the provider reference), such as 1/m. Replaces the per-recipient rate the plugin declares; \"none\" turns it off.",
				"examples":    []string{"1/m", "10/h", "none"},
			},
		},
	}
	var rules []any
	for _, t := range types {
		then := map[string]any{"properties": map[string]any{"config": ref("config." + t)}}
		if needsValue(byType[t].Config) {
			then["required"] = []string{"config"}
		}
		rules = append(rules, map[string]any{
			"if":   map[string]any{"required": []string{"type"}, "properties": map[string]any{"type": map[string]any{"const": t}}},
			"then": then,
		})
	}
	if len(rules) > 0 {
		s["allOf"] = rules
	}
	return s
}

// namedProviderSchema is an instance named like a known type: without a
// type attribute it has that type.
func namedProviderSchema(s *sdk.Spec) map[string]any {
	then := map[string]any{"properties": map[string]any{"config": ref("config." + s.Type)}}
	if needsValue(s.Config) {
		then["required"] = []string{"config"}
	}
	return map[string]any{
		"allOf": []any{
			ref("provider"),
			map[string]any{"if": map[string]any{"not": map[string]any{"required": []string{"type"}}}, "then": then},
		},
	}
}

func workflowSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "A workflow: what starts it (triggers), whether it runs (when) and the steps it runs in order. Every workflow can also be run manually.",
		"additionalProperties": false,
		"required":             []string{"steps"},
		"properties": map[string]any{
			"description": map[string]any{"type": "string", "description": "What the workflow is for."},
			"vars": map[string]any{
				"type":        "object",
				"description": "Variables, read as vars.<name>. Values may be templates reading trigger, secrets, run and now; they are rendered once per run.",
			},
			"triggers": map[string]any{
				"type":        "array",
				"description": "What starts the workflow: cron, webhook or event triggers. Manual runs need none.",
				"items":       ref("trigger"),
			},
			"when": condition("A CEL condition gating every run: when it is false the run ends as skipped. Reads trigger, vars, secrets, run and now."),
			"concurrency": map[string]any{
				"type":                 "object",
				"description":          "Bounds the runs of this workflow in flight at once.",
				"additionalProperties": false,
				"properties": map[string]any{
					"limit":    map[string]any{"type": "integer", "minimum": 1, "description": "Most runs at once; unlimited when not set."},
					"on_limit": map[string]any{"enum": []string{string(config.OnLimitQueue), string(config.OnLimitSkip)}, "default": string(config.OnLimitQueue), "description": "What a run started at the limit does: queue waits for a slot, skip ends it as skipped."},
				},
			},
			"steps": map[string]any{
				"type":        "array",
				"description": "The steps, run in order; each may read the results of the steps before it as steps.<id>.",
				"minItems":    1,
				"items":       ref("step"),
			},
		},
	}
}

func triggerSchema() map[string]any {
	return map[string]any{
		"description": "A trigger, by type: cron, webhook or event.",
		"type":        "object",
		"required":    []string{"type"},
		"properties":  map[string]any{"type": map[string]any{"enum": []string{string(config.TriggerCron), string(config.TriggerWebhook), string(config.TriggerEvent)}}},
		"oneOf":       []any{ref("cron"), ref("webhook"), ref("event")},
	}
}

func cronSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "Starts the workflow on a schedule.",
		"additionalProperties": false,
		"required":             []string{"type", "schedule"},
		"properties": map[string]any{
			"type":     map[string]any{"const": string(config.TriggerCron)},
			"schedule": map[string]any{"type": "string", "minLength": 1, "description": "A cron expression: 5 fields, 6 with seconds first, or a descriptor such as @daily or @every 1h.", "examples": []string{"0 9 * * MON-FRI", "*/30 * * * * *", "@every 1h"}},
			"timezone": map[string]any{"type": "string", "minLength": 1, "default": config.DefaultTimezone, "description": "The IANA timezone the schedule is read in.", "examples": []string{"UTC", "Europe/Berlin", "America/New_York"}},
			"catchup": map[string]any{
				"enum":        []string{string(config.CatchupSkip), string(config.CatchupLatest), string(config.CatchupAll)},
				"default":     string(config.CatchupSkip),
				"description": "Fires missed while no host was running: skip drops them, latest runs the most recent once, all runs every one.",
			},
		},
	}
}

func webhookSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "Starts the workflow on POST /hooks/<path>, with the JSON body as trigger.body.",
		"additionalProperties": false,
		"required":             []string{"type", "path"},
		"properties": map[string]any{
			"type":   map[string]any{"const": string(config.TriggerWebhook)},
			"path":   map[string]any{"type": "string", "pattern": webhookPathPattern, "description": "The path under /hooks/: letters, digits, ., _, ~, - and /. Each path serves one workflow."},
			"secret": map[string]any{"type": "string", "description": "When set, requests must carry X-Herald-Signature: sha256=<hex HMAC-SHA256(secret, body)>. Read it from a secret, as {{ secrets.NAME }}."},
			"sensitive": map[string]any{
				"type":        "array",
				"description": "Headers, query parameters and body fields masked as *** before the run is stored: headers.<name>, query.<name>, body.<path> (segments split by ., * for any key or list item) or a bare header name. Adds to the default credential headers and parameters.",
				"items":       map[string]any{"type": "string", "pattern": sensitivePattern},
			},
			"require_timestamp":   map[string]any{"type": "boolean", "default": false, "description": "Refuse requests signed without X-Herald-Timestamp: each must sign <unix seconds>.<body> and carry the seconds in X-Herald-Timestamp, so a captured request cannot be replayed later. Needs secret."},
			"timestamp_tolerance": duration("How far X-Herald-Timestamp may be from the host's clock, before or after, for a timestamped signature to be accepted. Needs secret.", config.DefaultTimestampTolerance),
			"respond":             map[string]any{"enum": []string{string(config.RespondAccepted), string(config.RespondOutput)}, "default": string(config.RespondAccepted), "description": "When the webhook answers: accepted (202 with the run id once the run is admitted) or output (200 with the run object once the run has finished, or 202 with the run id when respond_timeout passes first)."},
			"respond_timeout":     duration("How long a webhook with respond = \"output\" waits for its run before answering 202 with the run id; at most 1m. Needs respond = \"output\".", config.DefaultRespondTimeout),
		},
	}
}

func eventSchema(events, sources []string) map[string]any {
	event := map[string]any{"type": "string", "minLength": 1, "description": "The provider event type, such as chatwoot.message_created; its data is trigger.event."}
	if len(events) > 0 {
		event["examples"] = events
	}
	provider := map[string]any{"type": "string", "pattern": instanceNamePattern, "description": "The provider instance whose webhooks emit the event. Defaults to the instance named like the event's prefix, else the only instance of that type."}
	if len(sources) > 0 {
		provider["examples"] = sources
	}
	return map[string]any{
		"type":                 "object",
		"description":          "Starts the workflow when a provider instance's webhook produces an event.",
		"additionalProperties": false,
		"required":             []string{"type", "event"},
		"properties": map[string]any{
			"type":     map[string]any{"const": string(config.TriggerEvent)},
			"event":    event,
			"provider": provider,
		},
	}
}

// condition returns a CEL condition schema with its own description.
func condition(description string) map[string]any {
	return map[string]any{"type": "string", "minLength": 1, "description": description}
}

func duration(description string, def time.Duration) map[string]any {
	return map[string]any{"type": "string", "pattern": durationPattern, "default": formatDuration(def), "description": description}
}

// formatDuration writes d as its shortest duration string: "1m", not
// "1m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func usesSchema(uses []string) map[string]any {
	s := map[string]any{"type": "string", "pattern": usesPattern, "description": "The action to call: <provider instance>.<action>."}
	if len(uses) > 0 {
		s["examples"] = uses
	}
	return s
}

func withSchema() map[string]any {
	return map[string]any{
		"description": "The action's input. Any string may hold {{ }} templates; the whole input may be one template that yields an object.",
		"anyOf":       []any{map[string]any{"type": "object"}, ref("template")},
	}
}

func overrideSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "Changes to one call: config is merged over the instance configuration, body deep-merged into the request body the plugin builds.",
		"additionalProperties": false,
		"properties": map[string]any{
			"config": map[string]any{"type": "object", "description": "Config fields to change for this call, such as other credentials or another instance."},
			"body":   map[string]any{"type": "object", "description": "Fields deep-merged into the provider request body."},
		},
	}
}

func retrySchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "Retries with exponential backoff and jitter. Permanent errors are not retried; rate-limited ones wait at least the provider's Retry-After. Without a retry block a step makes one attempt.",
		"additionalProperties": false,
		"properties": map[string]any{
			"max_attempts":     map[string]any{"type": "integer", "minimum": 1, "default": config.DefaultRetryAttempts, "description": "Attempts in all, the first included."},
			"initial_interval": duration("Wait before the first retry.", config.DefaultInitialInterval),
			"max_interval":     duration("Longest wait between attempts; not shorter than initial_interval.", config.DefaultMaxInterval),
			"multiplier":       map[string]any{"type": "number", "minimum": 1, "default": config.DefaultMultiplier, "description": "Growth of the wait after each retry."},
		},
	}
}

func stepSchema(uses []string, typed bool) map[string]any {
	s := map[string]any{
		"type":                 "object",
		"description":          "A call of a provider action (uses), or a wait step (wait or wait_for) that parks the run.",
		"additionalProperties": false,
		"required":             []string{"id"},
		"oneOf":                []any{requires("uses"), requires("wait"), requires("wait_for")},
		"dependentRequired":    map[string]any{"parallelism": []string{"for_each"}},
		"properties": map[string]any{
			"id":       map[string]any{"type": "string", "pattern": stepIDPattern, "description": "The step's id, unique in the workflow; later steps read its result as steps.<id>."},
			"uses":     usesSchema(uses),
			"if":       condition("A CEL condition: when it is false the step is skipped. Evaluated once, before for_each, so item and index are not in scope."),
			"with":     withSchema(),
			"override": ref("override"),
			"retry":    ref("retry"),
			"timeout":  duration("Bound of each attempt.", config.DefaultTimeout),
			"for_each": map[string]any{
				"description": "Runs the step once per element of a list, with item and index in scope of with and override: a list, or one {{ }} expression that yields one.",
				"anyOf":       []any{map[string]any{"type": "array"}, ref("template")},
			},
			"parallelism":       map[string]any{"type": "integer", "minimum": 1, "default": config.DefaultParallelism, "description": "How many elements of for_each run at once."},
			"continue_on_error": map[string]any{"type": "boolean", "default": false, "description": "Lets the run go on when the step finally fails."},
			"on_in_doubt":       map[string]any{"type": "string", "enum": []any{"reconcile", "retry", "stop"}, "description": "What happens to a send whose outcome is unknown: reconcile asks the provider (the default when the action has a reconcile handler), stop waits for runs resolve (the default otherwise), retry sends again and accepts a duplicate."},
			"fallback": map[string]any{
				"description": "Alternatives tried in order when the step finally fails; each makes one attempt and may read steps.<this step> for the failure.",
				"anyOf":       []any{ref("fallback"), map[string]any{"type": "array", "items": ref("fallback")}},
			},
			"wait":     ref("wait"),
			"wait_for": ref("wait_for"),
			"window":   ref("window"),
		},
	}
	if typed {
		s["allOf"] = []any{ref("uses_rules")}
	}
	return s
}

func fallbackSchema(uses []string, typed bool) map[string]any {
	s := map[string]any{
		"type":                 "object",
		"description":          "An alternative action tried when the step finally fails.",
		"additionalProperties": false,
		"required":             []string{"uses"},
		"properties": map[string]any{
			"uses":     usesSchema(uses),
			"with":     withSchema(),
			"override": ref("override"),
		},
	}
	if typed {
		s["allOf"] = []any{ref("uses_rules")}
	}
	return s
}

// usesRules types a step's or fallback's with and override.config by the
// instance and action its uses names.
func usesRules(specs map[string]*sdk.Spec, names []string) map[string]any {
	var rules []any
	for _, name := range names {
		s := specs[name]
		actions := make([]string, len(s.Actions))
		for i, a := range s.Actions {
			actions[i] = name + "." + a.Name
		}
		rules = append(rules, map[string]any{
			"if": map[string]any{
				"required":   []string{"uses"},
				"properties": map[string]any{"uses": map[string]any{"type": "string", "pattern": "^" + regexp.QuoteMeta(name) + `\.`}},
			},
			"then": map[string]any{
				"properties": map[string]any{
					"uses":     map[string]any{"enum": actions},
					"override": map[string]any{"properties": map[string]any{"config": ref("override_config." + s.Type)}},
				},
			},
		})
		for _, a := range s.Actions {
			then := map[string]any{"properties": map[string]any{"with": ref("input." + s.Type + "." + a.Name)}}
			if needsValue(a.Input) {
				then["required"] = []string{"with"}
			}
			rules = append(rules, map[string]any{
				"if":   map[string]any{"required": []string{"uses"}, "properties": map[string]any{"uses": map[string]any{"const": name + "." + a.Name}}},
				"then": then,
			})
		}
	}
	return map[string]any{"allOf": rules}
}

// needsValue reports whether an empty object fails s: some field is
// required, or some group needs one of its fields.
func needsValue(s sdk.Schema) bool {
	return len(s.ExactlyOneOf) > 0 || len(s.AtLeastOneOf) > 0 ||
		slices.ContainsFunc(s.Fields, func(f sdk.Field) bool { return f.Required })
}

// optional returns s with no field required and no exactly-one-of group,
// as the loader checks a step's override.config: it changes only some
// fields of a complete configuration.
func optional(s sdk.Schema) sdk.Schema {
	s.ExactlyOneOf = nil
	s.Fields = optionalFields(s.Fields)
	return s
}

func optionalFields(fields []sdk.Field) []sdk.Field {
	if fields == nil {
		return nil
	}
	out := make([]sdk.Field, len(fields))
	for i, f := range fields {
		f.Required = false
		f.Fields = optionalFields(f.Fields)
		out[i] = f
	}
	return out
}

// templated returns a value schema that also accepts a {{ }} template in
// place of the value, and in place of every typed value inside it.
func templated(s map[string]any) map[string]any {
	out := templatedObject(s)
	if wo, _ := out["writeOnly"].(bool); wo {
		d, _ := out["description"].(string)
		out["description"] = strings.TrimSpace(d + " Sensitive: read it from a secret, as {{ secrets.NAME }}; it is masked as *** everywhere.")
	}
	var takesString bool
	switch t := out["type"].(type) {
	case string:
		takesString = t == "string"
	case []string: // string_or_integer
		takesString = slices.Contains(t, "string")
	default:
		return out // any value, a template included
	}
	constrained := false
	for _, k := range []string{"pattern", "enum", "minLength", "maxLength"} {
		if _, ok := out[k]; ok {
			constrained = true
		}
	}
	if takesString && !constrained {
		return out // a template is a string
	}
	wrapper := map[string]any{}
	for _, k := range []string{"description", "default", "writeOnly"} {
		if v, ok := out[k]; ok {
			wrapper[k] = v
			delete(out, k)
		}
	}
	wrapper["anyOf"] = []any{out, ref("template")}
	return wrapper
}

// templatedObject returns s with templates accepted in place of each of its
// properties and items, but not in place of s itself.
func templatedObject(s map[string]any) map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	if props, ok := s["properties"].(map[string]any); ok {
		np := make(map[string]any, len(props))
		for k, v := range props {
			if m, ok := v.(map[string]any); ok {
				np[k] = templated(m)
			} else {
				np[k] = v
			}
		}
		out["properties"] = np
	}
	if items, ok := s["items"].(map[string]any); ok {
		out["items"] = templated(items)
	}
	return out
}

// requires is a schema that only requires key, for a oneOf between the keys
// that make different kinds of step.
func requires(key string) map[string]any {
	return map[string]any{"required": []string{key}}
}

// durationOrTemplate is a duration written out, or a template that renders
// to one when the step starts.
func durationOrTemplate(description string) map[string]any {
	return map[string]any{"type": "string", "description": description, "anyOf": []any{
		map[string]any{"pattern": durationPattern}, map[string]any{"pattern": templatePattern},
	}}
}

func waitSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "Parks the run (status waiting, no process held) for a duration or until a time; exactly one of them.",
		"additionalProperties": false,
		"oneOf":                []any{requires("duration"), requires("until")},
		"properties": map[string]any{
			"duration": durationOrTemplate("How long to wait, from when the step starts: a duration, or a {{ }} template rendered when the step starts."),
			"until":    map[string]any{"type": "string", "description": "A {{ }} template yielding the timestamp to wait until; a time past ends the wait at once."},
		},
	}
}

func windowSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"description":          "A send window: the step's sends (each for_each item's) go out only on these days within these hours in the timezone; one outside it waits for the opening (delay) or is skipped (skip).",
		"additionalProperties": false,
		"required":             []string{"timezone"},
		"anyOf":                []any{requires("days"), requires("hours")},
		"properties": map[string]any{
			"days":     map[string]any{"type": "string", "default": "*", "description": "Weekdays such as MON-FRI, SAT,SUN, FRI-MON, or * for every day."},
			"hours":    map[string]any{"type": "string", "default": "00:00-24:00", "description": "Local time of day HH:MM-HH:MM, open up to (not including) the close; 22:00-06:00 runs overnight."},
			"timezone": map[string]any{"type": "string", "description": "An IANA timezone such as Europe/Berlin, or a {{ }} template rendered per send, such as {{ item.tz }}."},
			"outside":  map[string]any{"type": "string", "enum": []any{"delay", "skip"}, "default": "delay", "description": "What a send outside the window does: wait durably for its opening (delay) or be skipped with a reason (skip)."},
		},
	}
}

func waitForSchema(events []string) map[string]any {
	event := map[string]any{"type": "string", "description": "The provider event waited for."}
	if len(events) > 0 {
		event["enum"] = events
	}
	return map[string]any{
		"type":                 "object",
		"description":          "Parks the run until a provider event that match accepts, a signal, or the timeout, whichever comes first. Output: {matched, event?, data?, timed_out}.",
		"additionalProperties": false,
		"required":             []string{"timeout"},
		"anyOf":                []any{requires("event"), requires("signal")},
		"dependentRequired":    map[string]any{"match": []string{"event"}, "provider": []string{"event"}},
		"properties": map[string]any{
			"event":    event,
			"provider": map[string]any{"type": "string", "description": "The provider instance that emits the event; needed when several instances of its type exist."},
			"match":    condition("A CEL condition over event, steps, vars, trigger and run: only an event for which it is true ends the wait."),
			"signal":   map[string]any{"type": "string", "pattern": stepIDPattern, "description": "A signal name: POST /api/v1/runs/{id}/signals/{name}, herald runs signal, or the link {{ run.signal_url.<name> }}."},
			"timeout":  durationOrTemplate("How long to wait at most (a duration, or a {{ }} template rendered when the step starts); then the output has timed_out = true."),
		},
	}
}
