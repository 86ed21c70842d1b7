package config

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hclProviders and yamlProviders declare the chatapi instance the cases
// use; cases add their workflow after them, so HCL cases start at line 4 and
// YAML cases at line 5.
const (
	hclProviders = `provider "chatapi" {
  config = { instance_id = "1", token = "{{ secrets.CHATAPI_TOKEN }}" }
}
`
	yamlProviders = `providers:
  chatapi:
    config: {instance_id: "1", token: "{{ secrets.CHATAPI_TOKEN }}"}
workflows:
`
)

type diagCase struct {
	name string
	// files maps file names to contents; a main file gets the providers
	// prefix of its format.
	files map[string]string
	want  []string
}

func hclMain(body string) map[string]string {
	return map[string]string{"main.hcl": hclProviders + body}
}
func yamlMain(body string) map[string]string {
	return map[string]string{"main.yaml": yamlProviders + body}
}

var hclCases = []diagCase{
	{name: "on_in_doubt reconcile without a handler", files: hclMain(`workflow "w" {
  step "a" {
    uses        = "chatapi.status"
    on_in_doubt = "reconcile"
  }
  step "b" {
    uses        = "chatapi.send_message"
    with        = { phone = "1", body = "x" }
    on_in_doubt = "reconcile"
    fallback {
      uses = "chatapi.status"
    }
  }
  step "c" {
    uses        = "chatapi.status"
    on_in_doubt = "maybe"
  }
}
`),
		want: []string{
			"main.hcl:7:19: on_in_doubt = \"reconcile\" in step \"a\" of workflow \"w\": chatapi.status has no reconcile handler; use \"stop\" (wait for an operator) or \"retry\" (accept a duplicate)",
			"main.hcl:12:19: on_in_doubt = \"reconcile\" in step \"b\" of workflow \"w\": chatapi.status has no reconcile handler; use \"stop\" (wait for an operator) or \"retry\" (accept a duplicate)",
			"main.hcl:19:19: on_in_doubt in step \"c\" of workflow \"w\" must be reconcile, retry or stop, not \"maybe\"",
		},
	},
	{name: "unknown key", files: hclMain(`workflow "w" {
  step "a" {
    uses   = "chatapi.send_message"
    with   = { phone = "1", body = "x" }
    colour = "red"
    tiemout = "5s"
  }
}
`),
		want: []string{
			"main.hcl:8:5: unknown key \"colour\" in step \"a\" of workflow \"w\" (expected id, uses, if, with, override, retry, timeout, for_each, parallelism, continue_on_error, on_in_doubt, fallback, wait, wait_for, window)",
			"main.hcl:9:5: unknown key \"tiemout\" in step \"a\" of workflow \"w\"; did you mean \"timeout\"?",
		},
	},
	{name: "unknown block", files: hclMain(`workflow "w" {
  stage "a" {}
  step "a" {
    uses = "chatapi.status"
  }
}
resource "x" "y" {}
`),
		want: []string{
			"main.hcl:5:3: unexpected block \"stage\": expected concurrency, step, trigger",
			"main.hcl:10:1: unexpected block \"resource\": expected provider, required_plugins, workflow",
		},
	},
	{name: "duplicate across files", files: map[string]string{
		"a.hcl": hclProviders + `workflow "w" {
  step "a" { uses = "chatapi.status" }
}
`,
		"b.hcl": `provider "chatapi" {}
workflow "w" {
  step "a" { uses = "chatapi.status" }
}
`},
		want: []string{
			"b.hcl:1:10: provider \"chatapi\" is already declared at a.hcl:1:10",
			"b.hcl:2:10: workflow \"w\" is already declared at a.hcl:4:10",
		},
	},
	{name: "duplicate step id", files: hclMain(`workflow "w" {
  step "a" { uses = "chatapi.status" }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:6:8: duplicate step id \"a\" in workflow \"w\"; the first is at main.hcl:5:8",
		},
	},
	{name: "duplicate webhook path", files: hclMain(`workflow "w1" {
  trigger "webhook" { path = "hook" }
  step "a" { uses = "chatapi.status" }
}
workflow "w2" {
  trigger "webhook" { path = "/hook" }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:9:30: webhook path \"hook\" is already used by workflow \"w1\" at main.hcl:5:30",
		},
	},
	{name: "timestamp options need a secret", files: hclMain(`workflow "w" {
  trigger "webhook" {
    path                = "unsigned"
    require_timestamp   = true
    timestamp_tolerance = "1m"
  }
  trigger "webhook" {
    path                = "signed"
    secret              = "{{ secrets.CHATAPI_TOKEN }}"
    require_timestamp   = "yes"
    timestamp_tolerance = "-1m"
  }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:7:5: require_timestamp in the webhook trigger of workflow \"w\" needs a secret: timestamps are checked only on signed requests",
			"main.hcl:8:5: timestamp_tolerance in the webhook trigger of workflow \"w\" needs a secret: timestamps are checked only on signed requests",
			"main.hcl:13:27: require_timestamp in the webhook trigger of workflow \"w\" must be true or false, not a string",
			"main.hcl:14:27: timestamp_tolerance in the webhook trigger of workflow \"w\" must be positive, not \"-1m\"",
		},
	},
	{name: "bad respond settings", files: hclMain(`workflow "w" {
  trigger "webhook" {
    path            = "a"
    respond         = "body"
    respond_timeout = "5s"
  }
  trigger "webhook" {
    path            = "b"
    respond         = "output"
    respond_timeout = "2m"
  }
  trigger "webhook" {
    path            = "c"
    respond         = "output"
    respond_timeout = "soon"
  }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:7:23: respond in the webhook trigger of workflow \"w\" must be accepted or output, not \"body\"",
			"main.hcl:8:5: respond_timeout in the webhook trigger of workflow \"w\" needs respond = \"output\": a webhook that answers when the run is accepted does not wait",
			"main.hcl:13:23: respond_timeout in the webhook trigger of workflow \"w\" must be at most 1m0s, not \"2m\"",
			"main.hcl:18:23: respond_timeout in the webhook trigger of workflow \"w\" must be a duration such as 30s or 1m30s, not \"soon\"",
		},
	},
	{name: "bad trigger settings", files: hclMain(`workflow "w" {
  trigger "cron" {
    schedule = "0 25 * * *"
    timezone = "Mars/Olympus"
    catchup  = "some"
  }
  trigger "cron" { schedule = "@every 1m" }
  trigger "sometimes" {}
  concurrency {
    limit    = 0
    on_limit = "drop"
  }
  step "a" {
    uses    = "chatapi.status"
    timeout = "5 minutes"
    retry {
      max_attempts = 0
      initial_interval = "2m"
      max_interval = "1m"
    }
  }
}
`),
		want: []string{
			"main.hcl:6:16: invalid schedule \"0 25 * * *\" in the cron trigger of workflow \"w\": hour: 25 is above 23",
			"main.hcl:7:16: timezone in the cron trigger of workflow \"w\": unknown timezone \"Mars/Olympus\": use an IANA name such as Europe/Berlin",
			"main.hcl:8:16: catchup in the cron trigger of workflow \"w\" must be skip, latest or all, not \"some\"",
			"main.hcl:11:11: unknown trigger type \"sometimes\" in workflow \"w\" (expected cron, webhook or event)",
			"main.hcl:13:16: limit in the concurrency of workflow \"w\" must be at least 1, not 0",
			"main.hcl:14:16: on_limit in the concurrency of workflow \"w\" must be queue or skip, not \"drop\"",
			"main.hcl:18:15: timeout in step \"a\" of workflow \"w\" must be a duration such as 30s or 1m30s, not \"5 minutes\"",
			"main.hcl:20:22: max_attempts in the retry of step \"a\" of workflow \"w\" must be at least 1, not 0",
			"main.hcl:22:22: max_interval in the retry of step \"a\" of workflow \"w\" must not be shorter than initial_interval (2m0s)",
		},
	},
	{name: "bad rate limit", files: map[string]string{"main.hcl": `provider "chatapi" {
  config     = { instance_id = "1", token = "{{ secrets.CHATAPI_TOKEN }}" }
  rate_limit = "fast"
}
`},
		want: []string{
			"main.hcl:3:16: rate_limit in provider \"chatapi\": rate limit \"fast\" must be <count>/<unit>, such as 20/s or 100/m",
		},
	},
	{name: "cel errors", files: hclMain(`workflow "w" {
  vars = { team = "ops" }
  when = "trigger.kind ==="
  step "a" {
    uses = "chatapi.send_message"
    if   = "vars.team"
    with = { chat_id = "{{ vars.tema }}", body = "{{ steps.b.output }} {{ item }}" }
  }
  step "b" {
    uses = "chatapi.send_message"
    with = { chat_id = "x", body = "{{ steps.a.outptu }}{{ nope }}" }
  }
}
`),
		want: []string{
			"main.hcl:6:10: when: \"trigger.kind ===\": Syntax error: token recognition error at: '=' (column 16); Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (column 17)",
			"main.hcl:10:24: with.chat_id: \"{{ vars.tema }}\": undeclared variable vars.tema (declared: team)",
			"main.hcl:10:50: with.body: \"{{ steps.b.output }} {{ item }}\": item is only in scope in the with and override of a step with for_each",
			"main.hcl:10:50: with.body: \"{{ steps.b.output }} {{ item }}\": step \"b\" does not run before this point, so steps.b is not available",
			"main.hcl:14:36: with.body: \"{{ steps.a.outptu }}{{ nope }}\": steps.a has no field \"outptu\" (fields: output, status, error, attempts, provider, delivery)",
			"main.hcl:14:36: with.body: \"{{ steps.a.outptu }}{{ nope }}\": undeclared reference to 'nope' (column 2)",
		},
	},
	{name: "provider config reads only secrets", files: map[string]string{"main.hcl": `provider "chatapi" {
  config = { instance_id = "{{ vars.id }}", token = "{{ secrets.CHATAPI_TOKEN }}" }
}
`},
		want: []string{
			"main.hcl:2:28: config.instance_id: \"{{ vars.id }}\": provider config may only read secrets, not vars",
		},
	},
	{name: "unknown provider and action", files: hclMain(`workflow "w" {
  step "a" { uses = "sms.send" }
  step "b" { uses = "chatapi.send_mesage" }
  step "c" { uses = "chatapi" }
}
`),
		want: []string{
			"main.hcl:5:21: unknown provider instance \"sms\" in uses of step \"a\" of workflow \"w\" (declared: chatapi)",
			"main.hcl:6:21: provider \"chatapi\" (type chatapi) has no action \"send_mesage\" (actions: send_message, status)",
			"main.hcl:7:21: uses in step \"c\" of workflow \"w\" must be <provider instance>.<action>, such as chatapi.send_message, not \"chatapi\"",
		},
	},
	{name: "with against input schema", files: hclMain(`workflow "w" {
  step "a" {
    uses = "chatapi.send_message"
    with = {
      phone   = "+49 151"
      chat_id = "x@c.us"
      mentioned_phones = ["1", 2]
      colour  = "red"
    }
  }
  step "b" {
    uses = "chatapi.send_message"
    with = { body = 42 }
  }
  step "c" {
    uses = "chatapi.send_message"
  }
}
`),
		want: []string{
			"main.hcl:7:5: with.body of chatapi.send_message: required field is missing",
			"main.hcl:8:7: with.phone of chatapi.send_message: \"+49 151\" does not match ^[0-9]+$",
			"main.hcl:8:7: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but phone and chat_id are both set",
			"main.hcl:10:32: with.mentioned_phones[1] of chatapi.send_message: must be a string, got integer",
			"main.hcl:11:7: with.colour of chatapi.send_message: unknown field; expected one of phone, chat_id, body, quoted_msg_id, mentioned_phones",
			"main.hcl:16:5: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but none is set",
			"main.hcl:16:14: with.body of chatapi.send_message: must be a string, got integer",
			"main.hcl:18:3: with.body of chatapi.send_message: required field is missing",
			"main.hcl:18:3: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but none is set",
		},
	},
	{name: "fallback with", files: map[string]string{"main.hcl": hclProviders + `provider "cc" {
  type   = "chitchatlabs"
  config = { api_key = "{{ secrets.CCL_KEY }}" }
}
workflow "w" {
  step "a" {
    uses = "chatapi.send_message"
    with = { phone = "1", body = "x" }
    fallback {
      uses = "cc.send_single"
      with = { to = { name = "Ann" }, fb_template = "t", language = "en", file = { type = "gif", link = "x" } }
    }
    fallback {
      uses = "cc.send_single"
      with = { to = { mobile = "{{ steps.a.error }}{{ steps.b.output }}" }, fb_template = "t", language = "en" }
    }
  }
  step "b" { uses = "chatapi.status" }
}
`},
		want: []string{
			"main.hcl:14:16: with.to.mobile of cc.send_single: required field is missing",
			"main.hcl:14:84: with.file.type of cc.send_single: must be one of image, video, document, got \"gif\"",
			"main.hcl:18:32: with.to.mobile: \"{{ steps.a.error }}{{ steps.b.output }}\": step \"b\" does not run before this point, so steps.b is not available",
		},
	},
	{name: "event triggers", files: hclMain(`workflow "w" {
  trigger "event" {
    event    = "chatapi.message"
    provider = "nope"
  }
  trigger "event" { event = "chatapi.presence" }
  trigger "event" { event = "chatwoot.message_created" }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:7:16: unknown provider instance \"nope\" in the event trigger of workflow \"w\" (declared: chatapi)",
			"main.hcl:9:29: provider \"chatapi\" (type chatapi) does not emit event \"chatapi.presence\" (events: chatapi.message, chatapi.ack)",
			"main.hcl:10:3: the event trigger of workflow \"w\" needs provider = <instance>: no single provider instance of type \"chatwoot\" emits chatwoot.message_created",
		},
	},
	{name: "wait steps", files: hclMain(`workflow "w" {
  step "a" { uses = "chatapi.status" }
  step "b" {
    wait_for {
      event   = "chatapi.presence"
      signal  = "ack"
    }
  }
  step "c" {
    wait_for {
      event   = "chatapi.ack"
      match   = "event.id == steps.nope.output"
      timeout = "5m"
    }
  }
  step "d" {
    wait {
      duration = "1m"
      until    = "{{ now }}"
    }
  }
  step "e" {
    uses = "chatapi.status"
    with = { x = "{{ event.id }}" }
  }
  step "f" {
    wait {}
    retry { max_attempts = 2 }
  }
  step "g" {
    wait_for {
      signal  = "not a name"
      timeout = "1m"
    }
  }
  step "h" {
    wait_for {
      signal  = "ack"
      timeout = "{{ vars.nope }}"
    }
  }
  step "i" {
    wait { duration = "{{ steps.zzz.output }}" }
  }
  step "j" {
    wait { duration = "soon" }
  }
}
`),
		want: []string{
			"main.hcl:7:5: the wait_for of step \"b\" of workflow \"w\" is missing timeout: a wait_for must end, as in timeout = \"30m\"",
			"main.hcl:8:17: provider \"chatapi\" (type chatapi) does not emit event \"chatapi.presence\" (events: chatapi.message, chatapi.ack)",
			"main.hcl:15:17: match: \"event.id == steps.nope.output\": unknown step \"nope\" (earlier steps: a, b)",
			"main.hcl:22:7: the wait of step \"d\" of workflow \"w\" has both duration and until; give one",
			"main.hcl:27:14: with.x of chatapi.status: unknown field",
			"main.hcl:27:18: with.x: \"{{ event.id }}\": event is only in scope in the match of a wait_for",
			"main.hcl:30:5: the wait of step \"f\" of workflow \"w\" needs duration or until",
			"main.hcl:31:5: retry in step \"f\" of workflow \"w\": a wait step calls no action, so it takes no retry",
			"main.hcl:35:17: invalid signal name \"not a name\" in the wait_for of step \"g\" of workflow \"w\": use a letter or _ followed by letters, digits, _ or -",
			"main.hcl:42:17: timeout: \"{{ vars.nope }}\": undeclared variable vars.nope",
			"main.hcl:46:23: duration: \"{{ steps.zzz.output }}\": unknown step \"zzz\" (earlier steps: a, b, c, d, e, f, g, h)",
			"main.hcl:49:23: duration in the wait of step \"j\" of workflow \"w\" must be a duration such as 30s or 1m30s, not \"soon\"",
		},
	},
	{name: "provider config against schema", files: map[string]string{"main.hcl": `provider "support" {
  type   = "chatwoot"
  config = { base_url = "https://x", account_id = "one", api_access_token = "literal", colour = "red" }
}
`},
		want: []string{
			"main.hcl:3:3: provider \"support\" config: inbox_id: required field is missing",
			"main.hcl:3:38: provider \"support\" config: account_id: must be an integer, got string",
			"main.hcl:3:58: warning: provider \"support\" config: api_access_token is sensitive; read it from a secret, as \"{{ secrets.NAME }}\", instead of writing it in the file",
			"main.hcl:3:88: provider \"support\" config: colour: unknown field; expected one of base_url, account_id, api_access_token, inbox_id, webhook_secret",
		},
	},
	{name: "missing secret", files: hclMain(`workflow "w" {
  trigger "webhook" {
    path   = "x"
    secret = "{{ secrets.NOPE_HOOK }}"
  }
  step "a" {
    uses = "chatapi.send_message"
    with = { phone = "1", body = "{{ secrets.NOPE_BODY }}" }
  }
}
`),
		want: []string{
			"main.hcl:7:14: secret NOPE_HOOK is not set: set the environment variable HERALD_SECRET_NOPE_HOOK or add it to the secrets file",
			"main.hcl:11:34: secret NOPE_BODY is not set: set the environment variable HERALD_SECRET_NOPE_BODY or add it to the secrets file",
		},
	},
	{name: "plugin spec error", files: map[string]string{"main.hcl": `provider "a" {
  type = "mystery"
}
provider "b" {
  type = "mystery"
}
workflow "w" {
  step "x" { uses = "a.anything" }
}
`},
		want: []string{
			"main.hcl:1:10: provider \"a\": plugin herald-provider-mystery not found",
			"main.hcl:4:10: provider \"b\": plugin herald-provider-mystery not found",
		},
	},
	{name: "non-literal values", files: hclMain(`workflow "w" {
  vars = { team = var.team, up = upper("x") }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:5:19: HCL variable references are not supported (var.team): values are literals, and expressions are CEL templates such as \"{{ vars.x }}\"",
			"main.hcl:5:34: HCL function calls are not supported (upper): values are literals, and expressions are CEL templates such as \"{{ vars.x.upperAscii() }}\"",
		},
	},
	{name: "syntax error", files: hclMain(`workflow "w" {
  step "a" {
    uses = "chatapi.status"
`),
		want: []string{
			"main.hcl:5:12: unclosed configuration block: There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
		},
	},
	{name: "for_each rules", files: hclMain(`workflow "w" {
  step "a" {
    uses        = "chatapi.send_message"
    parallelism = 4
    with        = { phone = "1", body = "x" }
  }
  step "b" {
    uses     = "chatapi.send_message"
    for_each = "{{ 'abc'.size() }}"
    with     = { phone = "1", body = "{{ item }}" }
  }
}
`),
		want: []string{
			"main.hcl:7:5: parallelism in step \"a\" of workflow \"w\" needs for_each",
			"main.hcl:12:16: for_each: \"{{ 'abc'.size() }}\": must yield a list, but this yields a int",
		},
	},
	{name: "override config against schema", files: hclMain(`workflow "w" {
  step "a" {
    uses = "chatapi.send_message"
    with = { phone = "1", body = "x" }
    override = {
      config = { instance_id = 7, colour = "red" }
      headers = {}
    }
  }
}
`),
		want: []string{
			"main.hcl:9:18: override.config of step \"a\" of workflow \"w\": instance_id: must be a string, got integer",
			"main.hcl:9:35: override.config of step \"a\" of workflow \"w\": colour: unknown field; expected one of instance_id, token, api_url, uid",
			"main.hcl:10:7: unknown key \"headers\" in the override of step \"a\" of workflow \"w\" (expected config, body)",
		},
	},
	{name: "missing required keys", files: hclMain(`workflow "w" {
  trigger "cron" {}
  trigger "webhook" { path = "" }
  step "a" {}
}
workflow "empty" {}
`),
		want: []string{
			"main.hcl:5:3: the cron trigger of workflow \"w\" is missing schedule",
			"main.hcl:6:30: path in the webhook trigger of workflow \"w\" must not be empty",
			"main.hcl:7:3: step \"a\" of workflow \"w\" is missing uses",
			"main.hcl:9:10: workflow \"empty\" has no steps",
		},
	},
	{name: "duplicate keys", files: hclMain(`workflow "w" {
  step "a" {
    uses = "chatapi.send_message"
    with = { phone = "1", body = "x", body = "y" }
    retry {}
    retry {}
  }
}
`),
		want: []string{
			"main.hcl:7:39: duplicate key \"body\"; the first is at main.hcl:7:27",
			"main.hcl:9:5: duplicate retry block in step \"a\" of workflow \"w\"; the first is at main.hcl:8:5",
		},
	},
	{name: "warnings", files: hclMain(`workflow "w" {
  trigger "manual" {}
  trigger "webhook" {
    path   = "x"
    secret = "plain"
  }
  step "a" { uses = "chatapi.status" }
}
`),
		want: []string{
			"main.hcl:5:11: warning: workflow \"w\": manual triggers need no declaration; every workflow can be run manually",
			"main.hcl:8:14: warning: the secret of the webhook trigger of workflow \"w\" is written in the file; read it from a secret, as \"{{ secrets.NAME }}\"",
		},
	},
}

var yamlCases = []diagCase{
	{name: "on_in_doubt reconcile without a handler", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.status
        on_in_doubt: reconcile
`),
		want: []string{
			"main.yaml:9:22: on_in_doubt = \"reconcile\" in step \"a\" of workflow \"w\": chatapi.status has no reconcile handler; use \"stop\" (wait for an operator) or \"retry\" (accept a duplicate)",
		},
	},
	{name: "unknown key", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.send_message
        with: {phone: "1", body: x}
        colour: red
        tiemout: 5s
`),
		want: []string{
			"main.yaml:10:9: unknown key \"colour\" in step \"a\" of workflow \"w\" (expected id, uses, if, with, override, retry, timeout, for_each, parallelism, continue_on_error, on_in_doubt, fallback, wait, wait_for, window)",
			"main.yaml:11:9: unknown key \"tiemout\" in step \"a\" of workflow \"w\"; did you mean \"timeout\"?",
		},
	},
	{name: "wait steps", files: yamlMain(`  w:
    steps:
      - {id: a, uses: chatapi.status}
      - id: b
        wait_for: {event: chatapi.presence, signal: ack}
      - id: c
        wait_for:
          event: chatapi.ack
          match: "event.id =="
          timeout: 5m
      - id: d
        wait: {duration: 1m, until: "{{ now }}"}
`),
		want: []string{
			"main.yaml:9:19: the wait_for of step \"b\" of workflow \"w\" is missing timeout: a wait_for must end, as in timeout = \"30m\"",
			"main.yaml:9:27: provider \"chatapi\" (type chatapi) does not emit event \"chatapi.presence\" (events: chatapi.message, chatapi.ack)",
			"main.yaml:13:18: match: \"event.id ==\": Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (column 12)",
			"main.yaml:16:30: the wait of step \"d\" of workflow \"w\" has both duration and until; give one",
		},
	},
	{name: "unknown block", files: yamlMain(`  w:
    stages: [a]
    steps:
      - {id: a, uses: chatapi.status}
resources: {}
`),
		want: []string{
			"main.yaml:6:5: unknown key \"stages\" in workflow \"w\" (expected description, vars, triggers, when, concurrency, steps)",
			"main.yaml:9:1: unknown key \"resources\" in a project file (expected providers, workflows, required_plugins)",
		},
	},
	{name: "duplicate across files", files: map[string]string{
		"a.yaml": yamlProviders + `  w:
    steps: [{id: a, uses: chatapi.status}]
`,
		"b.yaml": `providers:
  chatapi: {}
workflows:
  w:
    steps: [{id: a, uses: chatapi.status}]
`},
		want: []string{
			"b.yaml:2:3: provider \"chatapi\" is already declared at a.yaml:2:3",
			"b.yaml:4:3: workflow \"w\" is already declared at a.yaml:5:3",
		},
	},
	{name: "duplicate step id", files: yamlMain(`  w:
    steps:
      - {id: a, uses: chatapi.status}
      - {id: a, uses: chatapi.status}
`),
		want: []string{
			"main.yaml:8:14: duplicate step id \"a\" in workflow \"w\"; the first is at main.yaml:7:14",
		},
	},
	{name: "duplicate webhook path", files: yamlMain(`  w1:
    triggers: [{type: webhook, path: hook}]
    steps: [{id: a, uses: chatapi.status}]
  w2:
    triggers: [{type: webhook, path: /hook}]
    steps: [{id: a, uses: chatapi.status}]
`),
		want: []string{
			"main.yaml:9:38: webhook path \"hook\" is already used by workflow \"w1\" at main.yaml:6:38",
		},
	},
	{name: "bad trigger settings", files: yamlMain(`  w:
    triggers:
      - type: cron
        schedule: "0 25 * * *"
        timezone: Mars/Olympus
        catchup: some
      - {type: cron, schedule: "@every 1m"}
      - {type: sometimes}
    concurrency: {limit: 0, on_limit: drop}
    steps:
      - id: a
        uses: chatapi.status
        timeout: 5 minutes
        retry: {max_attempts: 0, initial_interval: 2m, max_interval: 1m}
`),
		want: []string{
			"main.yaml:8:19: invalid schedule \"0 25 * * *\" in the cron trigger of workflow \"w\": hour: 25 is above 23",
			"main.yaml:9:19: timezone in the cron trigger of workflow \"w\": unknown timezone \"Mars/Olympus\": use an IANA name such as Europe/Berlin",
			"main.yaml:10:18: catchup in the cron trigger of workflow \"w\" must be skip, latest or all, not \"some\"",
			"main.yaml:12:16: unknown trigger type \"sometimes\" in workflow \"w\" (expected cron, webhook or event)",
			"main.yaml:13:26: limit in the concurrency of workflow \"w\" must be at least 1, not 0",
			"main.yaml:13:39: on_limit in the concurrency of workflow \"w\" must be queue or skip, not \"drop\"",
			"main.yaml:17:18: timeout in step \"a\" of workflow \"w\" must be a duration such as 30s or 1m30s, not \"5 minutes\"",
			"main.yaml:18:31: max_attempts in the retry of step \"a\" of workflow \"w\" must be at least 1, not 0",
			"main.yaml:18:70: max_interval in the retry of step \"a\" of workflow \"w\" must not be shorter than initial_interval (2m0s)",
		},
	},
	{name: "bad rate limit", files: map[string]string{"main.yaml": `providers:
  chatapi:
    config: {instance_id: "1", token: "{{ secrets.CHATAPI_TOKEN }}"}
    rate_limit: fast
`},
		want: []string{
			"main.yaml:4:17: rate_limit in provider \"chatapi\": rate limit \"fast\" must be <count>/<unit>, such as 20/s or 100/m",
		},
	},
	{name: "cel errors", files: yamlMain(`  w:
    vars: {team: ops}
    when: "trigger.kind ==="
    steps:
      - id: a
        uses: chatapi.send_message
        if: vars.team
        with: {chat_id: "{{ vars.tema }}", body: "{{ steps.b.output }} {{ item }}"}
      - id: b
        uses: chatapi.send_message
        with: {chat_id: x, body: "{{ steps.a.outptu }}{{ nope }}"}
`),
		want: []string{
			"main.yaml:7:11: when: \"trigger.kind ===\": Syntax error: token recognition error at: '=' (column 16); Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (column 17)",
			"main.yaml:12:25: with.chat_id: \"{{ vars.tema }}\": undeclared variable vars.tema (declared: team)",
			"main.yaml:12:50: with.body: \"{{ steps.b.output }} {{ item }}\": item is only in scope in the with and override of a step with for_each",
			"main.yaml:12:50: with.body: \"{{ steps.b.output }} {{ item }}\": step \"b\" does not run before this point, so steps.b is not available",
			"main.yaml:15:34: with.body: \"{{ steps.a.outptu }}{{ nope }}\": steps.a has no field \"outptu\" (fields: output, status, error, attempts, provider, delivery)",
			"main.yaml:15:34: with.body: \"{{ steps.a.outptu }}{{ nope }}\": undeclared reference to 'nope' (column 2)",
		},
	},
	{name: "provider config reads only secrets", files: map[string]string{"main.yaml": `providers:
  chatapi:
    config: {instance_id: "{{ vars.id }}", token: "{{ secrets.CHATAPI_TOKEN }}"}
`},
		want: []string{
			"main.yaml:3:27: config.instance_id: \"{{ vars.id }}\": provider config may only read secrets, not vars",
		},
	},
	{name: "unknown provider and action", files: yamlMain(`  w:
    steps:
      - {id: a, uses: sms.send}
      - {id: b, uses: chatapi.send_mesage}
      - {id: c, uses: chatapi}
`),
		want: []string{
			"main.yaml:7:23: unknown provider instance \"sms\" in uses of step \"a\" of workflow \"w\" (declared: chatapi)",
			"main.yaml:8:23: provider \"chatapi\" (type chatapi) has no action \"send_mesage\" (actions: send_message, status)",
			"main.yaml:9:23: uses in step \"c\" of workflow \"w\" must be <provider instance>.<action>, such as chatapi.send_message, not \"chatapi\"",
		},
	},
	{name: "with against input schema", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.send_message
        with:
          phone: "+49 151"
          chat_id: x@c.us
          mentioned_phones: ["1", 2]
          colour: red
      - id: b
        uses: chatapi.send_message
        with: {body: 42}
      - id: c
        uses: chatapi.send_message
`),
		want: []string{
			"main.yaml:9:9: with.body of chatapi.send_message: required field is missing",
			"main.yaml:10:11: with.phone of chatapi.send_message: \"+49 151\" does not match ^[0-9]+$",
			"main.yaml:10:11: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but phone and chat_id are both set",
			"main.yaml:12:35: with.mentioned_phones[1] of chatapi.send_message: must be a string, got integer",
			"main.yaml:13:11: with.colour of chatapi.send_message: unknown field; expected one of phone, chat_id, body, quoted_msg_id, mentioned_phones",
			"main.yaml:16:9: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but none is set",
			"main.yaml:16:16: with.body of chatapi.send_message: must be a string, got integer",
			"main.yaml:17:9: with.body of chatapi.send_message: required field is missing",
			"main.yaml:17:9: with.phone of chatapi.send_message: exactly one of phone, chat_id must be set, but none is set",
		},
	},
	{name: "fallback with", files: map[string]string{"main.yaml": `providers:
  chatapi:
    config: {instance_id: "1", token: "{{ secrets.CHATAPI_TOKEN }}"}
  cc:
    type: chitchatlabs
    config: {api_key: "{{ secrets.CCL_KEY }}"}
workflows:
  w:
    steps:
      - id: a
        uses: chatapi.send_message
        with: {phone: "1", body: x}
        fallback:
          - uses: cc.send_single
            with: {to: {name: Ann}, fb_template: t, language: en, file: {type: gif, link: x}}
          - uses: cc.send_single
            with: {to: {mobile: "{{ steps.a.error }}{{ steps.b.output }}"}, fb_template: t, language: en}
      - {id: b, uses: chatapi.status}
`},
		want: []string{
			"main.yaml:15:20: with.to.mobile of cc.send_single: required field is missing",
			"main.yaml:15:74: with.file.type of cc.send_single: must be one of image, video, document, got \"gif\"",
			"main.yaml:17:33: with.to.mobile: \"{{ steps.a.error }}{{ steps.b.output }}\": step \"b\" does not run before this point, so steps.b is not available",
		},
	},
	{name: "event triggers", files: yamlMain(`  w:
    triggers:
      - type: event
        event: chatapi.message
        provider: nope
      - {type: event, event: chatapi.presence}
      - {type: event, event: chatwoot.message_created}
    steps: [{id: a, uses: chatapi.status}]
`),
		want: []string{
			"main.yaml:9:19: unknown provider instance \"nope\" in the event trigger of workflow \"w\" (declared: chatapi)",
			"main.yaml:10:30: provider \"chatapi\" (type chatapi) does not emit event \"chatapi.presence\" (events: chatapi.message, chatapi.ack)",
			"main.yaml:11:9: the event trigger of workflow \"w\" needs provider = <instance>: no single provider instance of type \"chatwoot\" emits chatwoot.message_created",
		},
	},
	{name: "provider config against schema", files: map[string]string{"main.yaml": `providers:
  support:
    type: chatwoot
    config: {base_url: "https://x", account_id: one, api_access_token: literal, colour: red}
`},
		want: []string{
			"main.yaml:4:5: provider \"support\" config: inbox_id: required field is missing",
			"main.yaml:4:37: provider \"support\" config: account_id: must be an integer, got string",
			"main.yaml:4:54: warning: provider \"support\" config: api_access_token is sensitive; read it from a secret, as \"{{ secrets.NAME }}\", instead of writing it in the file",
			"main.yaml:4:81: provider \"support\" config: colour: unknown field; expected one of base_url, account_id, api_access_token, inbox_id, webhook_secret",
		},
	},
	{name: "missing secret", files: yamlMain(`  w:
    triggers:
      - type: webhook
        path: x
        secret: "{{ secrets.NOPE_HOOK }}"
    steps:
      - id: a
        uses: chatapi.send_message
        with: {phone: "1", body: "{{ secrets.NOPE_BODY }}"}
`),
		want: []string{
			"main.yaml:9:17: secret NOPE_HOOK is not set: set the environment variable HERALD_SECRET_NOPE_HOOK or add it to the secrets file",
			"main.yaml:13:34: secret NOPE_BODY is not set: set the environment variable HERALD_SECRET_NOPE_BODY or add it to the secrets file",
		},
	},
	{name: "plugin spec error", files: map[string]string{"main.yaml": `providers:
  a:
    type: mystery
  b:
    type: mystery
workflows:
  w:
    steps: [{id: x, uses: a.anything}]
`},
		want: []string{
			"main.yaml:2:3: provider \"a\": plugin herald-provider-mystery not found",
			"main.yaml:4:3: provider \"b\": plugin herald-provider-mystery not found",
		},
	},
	{name: "non-literal values", files: yamlMain(`  w:
    vars: {team: !!binary aGk=, up: !upper x}
    steps: [{id: a, uses: chatapi.status}]
`),
		want: []string{
			"main.yaml:6:36: unsupported YAML tag !upper",
		},
	},
	{name: "syntax error", files: yamlMain(`  w:
    steps: [{id: a, uses: chatapi.status}
`),
		want: []string{
			"main.yaml:6:12: invalid YAML: sequence end token ']' not found",
		},
	},
	{name: "for_each rules", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.send_message
        parallelism: 4
        with: {phone: "1", body: x}
      - id: b
        uses: chatapi.send_message
        for_each: "{{ 'abc'.size() }}"
        with: {phone: "1", body: "{{ item }}"}
`),
		want: []string{
			"main.yaml:9:9: parallelism in step \"a\" of workflow \"w\" needs for_each",
			"main.yaml:13:19: for_each: \"{{ 'abc'.size() }}\": must yield a list, but this yields a int",
		},
	},
	{name: "override config against schema", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.send_message
        with: {phone: "1", body: x}
        override:
          config: {instance_id: 7, colour: red}
          headers: {}
`),
		want: []string{
			"main.yaml:11:20: override.config of step \"a\" of workflow \"w\": instance_id: must be a string, got integer",
			"main.yaml:11:36: override.config of step \"a\" of workflow \"w\": colour: unknown field; expected one of instance_id, token, api_url, uid",
			"main.yaml:12:11: unknown key \"headers\" in the override of step \"a\" of workflow \"w\" (expected config, body)",
		},
	},
	{name: "timestamp options need a secret", files: yamlMain(`  w:
    triggers:
      - type: webhook
        path: unsigned
        require_timestamp: true
        timestamp_tolerance: 1m
      - type: webhook
        path: signed
        secret: "{{ secrets.CHATAPI_TOKEN }}"
        require_timestamp: "yes"
        timestamp_tolerance: "-1m"
    steps:
      - {id: a, uses: chatapi.status}
`),
		want: []string{
			"main.yaml:9:9: require_timestamp in the webhook trigger of workflow \"w\" needs a secret: timestamps are checked only on signed requests",
			"main.yaml:10:9: timestamp_tolerance in the webhook trigger of workflow \"w\" needs a secret: timestamps are checked only on signed requests",
			"main.yaml:14:28: require_timestamp in the webhook trigger of workflow \"w\" must be true or false, not a string",
			"main.yaml:15:30: timestamp_tolerance in the webhook trigger of workflow \"w\" must be positive, not \"-1m\"",
		},
	},
	{name: "bad respond settings", files: yamlMain(`  w:
    triggers:
      - type: webhook
        path: a
        respond: body
        respond_timeout: 5s
      - {type: webhook, path: b, respond: output, respond_timeout: 2m}
    steps:
      - {id: a, uses: chatapi.status}
`),
		want: []string{
			"main.yaml:9:18: respond in the webhook trigger of workflow \"w\" must be accepted or output, not \"body\"",
			"main.yaml:10:9: respond_timeout in the webhook trigger of workflow \"w\" needs respond = \"output\": a webhook that answers when the run is accepted does not wait",
			"main.yaml:11:68: respond_timeout in the webhook trigger of workflow \"w\" must be at most 1m0s, not \"2m\"",
		},
	},
	{name: "missing required keys", files: yamlMain(`  w:
    triggers:
      - {type: cron}
      - {type: webhook, path: ""}
    steps:
      - {}
  empty: {}
`),
		want: []string{
			"main.yaml:7:9: the cron trigger of workflow \"w\" is missing schedule",
			"main.yaml:8:31: path in the webhook trigger of workflow \"w\" must not be empty",
			"main.yaml:10:9: a step of workflow \"w\" is missing id",
			"main.yaml:11:3: workflow \"empty\" has no steps",
		},
	},
	{name: "duplicate keys", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.send_message
        with: {phone: "1", body: x, body: y}
`),
		want: []string{
			"main.yaml:9:37: invalid YAML: mapping key \"body\" already defined at [9:28]",
		},
	},
	{name: "warnings", files: yamlMain(`  w:
    triggers:
      - {type: manual}
      - {type: webhook, path: x, secret: plain}
    steps: [{id: a, uses: chatapi.status}]
`),
		want: []string{
			"main.yaml:7:16: warning: workflow \"w\": manual triggers need no declaration; every workflow can be run manually",
			"main.yaml:8:42: warning: the secret of the webhook trigger of workflow \"w\" is written in the file; read it from a secret, as \"{{ secrets.NAME }}\"",
		},
	},
}

func TestDiagnosticsHCL(t *testing.T)  { runDiagCases(t, hclCases) }
func TestDiagnosticsYAML(t *testing.T) { runDiagCases(t, yamlCases) }

func runDiagCases(t *testing.T, cases []diagCase) {
	t.Parallel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeProject(t, tc.files)
			p, diags := Load(dir, testOptions())
			got := messages(dir, diags)
			require.Equal(t, tc.want, got, "\n%s", strings.Join(got, "\n"))
			if diags.HasErrors() {
				require.Nil(t, p)
			}
		})
	}
}

// TestDiagnosticClassesInBothFormats keeps the two tables in step: every
// class of diagnostic is tested in HCL and in YAML.
func TestDiagnosticClassesInBothFormats(t *testing.T) {
	t.Parallel()
	names := func(cases []diagCase) []string {
		var out []string
		for _, c := range cases {
			out = append(out, c.name)
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, names(hclCases), names(yamlCases))
}
