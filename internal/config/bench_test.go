package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateProject writes a project of n workflows spread over files of 50
// workflows each, alternating HCL and YAML. Every workflow has vars, a cron
// and a webhook trigger, a when condition and three steps with templates, an
// if, a for_each and a fallback: a larger than typical project.
func generateProject(b *testing.B, n int) string {
	files := map[string]string{"providers.hcl": hclProviders + `
provider "cc" {
  type   = "chitchatlabs"
  config = { api_key = "{{ secrets.CCL_KEY }}" }
}
`}
	for f := 0; f*50 < n; f++ {
		var hcl, yaml strings.Builder
		yaml.WriteString("workflows:\n")
		for i := f * 50; i < min(n, (f+1)*50); i++ {
			if f%2 == 0 {
				fmt.Fprintf(&hcl, `workflow "wf-%[1]d" {
  vars = { phone = "1415555%04[1]d", team = "ops" }
  trigger "cron" {
    schedule = "0 9 * * MON-FRI"
    timezone = "Europe/Berlin"
  }
  trigger "webhook" { path = "hook-%[1]d" }
  when = "trigger.kind != 'webhook' || trigger.body.urgent == true"
  step "notify" {
    uses = "chatapi.send_message"
    if   = "vars.team == 'ops'"
    with = { phone = "{{ vars.phone }}", body = "Good morning {{ vars.team }}, run {{ run.id }}." }
    retry { max_attempts = 3 }
    fallback {
      uses = "cc.send_single"
      with = { to = { mobile = "{{ vars.phone }}" }, fb_template = "oncall", language = "en" }
    }
  }
  step "each" {
    for_each    = "{{ trigger.body.recipients }}"
    parallelism = 4
    uses = "chatapi.send_message"
    with = { phone = "{{ item.phone }}", body = "Hi {{ item.name }}" }
  }
  step "report" {
    uses = "chatapi.send_message"
    if   = "steps.notify.status == 'failed'"
    with = { chat_id = "ops@g.us", body = "notify failed: {{ steps.notify.error }}" }
  }
}
`, i)
				continue
			}
			fmt.Fprintf(&yaml, `  wf-%[1]d:
    vars: {phone: "1415555%04[1]d", team: ops}
    triggers:
      - {type: cron, schedule: "0 9 * * MON-FRI", timezone: Europe/Berlin}
      - {type: webhook, path: hook-%[1]d}
    when: "trigger.kind != 'webhook' || trigger.body.urgent == true"
    steps:
      - id: notify
        uses: chatapi.send_message
        if: "vars.team == 'ops'"
        with: {phone: "{{ vars.phone }}", body: "Good morning {{ vars.team }}, run {{ run.id }}."}
        retry: {max_attempts: 3}
        fallback:
          - uses: cc.send_single
            with: {to: {mobile: "{{ vars.phone }}"}, fb_template: oncall, language: en}
      - id: each
        for_each: "{{ trigger.body.recipients }}"
        parallelism: 4
        uses: chatapi.send_message
        with: {phone: "{{ item.phone }}", body: "Hi {{ item.name }}"}
      - id: report
        uses: chatapi.send_message
        if: "steps.notify.status == 'failed'"
        with: {chat_id: ops@g.us, body: "notify failed: {{ steps.notify.error }}"}
`, i)
		}
		if f%2 == 0 {
			files[fmt.Sprintf("wf-%03d.hcl", f)] = hcl.String()
		} else {
			files[fmt.Sprintf("wf-%03d.yaml", f)] = yaml.String()
		}
	}
	return writeProject(b, files)
}

// BenchmarkValidate1000Workflows loads and validates a generated project of
// 1,000 workflows from disk; the target is under 2s. The baseline reads the
// same files without parsing them.
func BenchmarkValidate1000Workflows(b *testing.B) {
	dir := generateProject(b, 1000)
	opts := testOptions()
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, diags := Load(dir, opts)
			if diags.HasErrors() || len(p.Workflows) != 1000 {
				b.Fatalf("%d workflows, diagnostics:\n%s", len(p.Workflows), diags.Error())
			}
		}
	})
	b.Run("baseline-read-files", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := readAll(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func readAll(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, err
		}
		total += len(data)
	}
	return total, nil
}
