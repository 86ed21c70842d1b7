# The project of SPEC §2, in HCL. full.yaml is the same project in YAML; both
# must decode to full.golden.json.

required_plugins {
  chatapi = { version = ">= 1.2, < 2.0" }
}

provider "chatapi" {
  config = {
    instance_id = "12345"
    token       = "{{ secrets.CHATAPI_TOKEN }}"
    api_url     = "https://api.chat-api.com"
  }
  rate_limit = "20/s"
}

provider "whatsapp_cc" {
  type   = "chitchatlabs"
  config = { api_key = "{{ secrets.CCL_KEY }}" }
}

provider "support" {
  type = "chatwoot"
  config = { base_url = "https://chat.example.com", account_id = 1, inbox_id = 3,
    api_access_token = "{{ secrets.CW_TOKEN }}", webhook_secret = "{{ secrets.CW_HOOK }}" }
  rate_limit = "100/m"
}

workflow "oncall-digest" {
  description = "Morning on-call reminder"
  vars        = { phone = "14155550123", team = "ops" }

  trigger "cron" {
    schedule = "0 9 * * MON-FRI"
    timezone = "Europe/Berlin"
    catchup  = "latest"
  }
  trigger "webhook" {
    require_timestamp   = true
    timestamp_tolerance = "2m"

    path      = "oncall"
    secret    = "{{ secrets.HOOK_SECRET }}"
    sensitive = ["X-Pager-Auth", "query.pin", "body.auth.password", "body.recipients.*.pin"]
  }
  when = "trigger.kind != 'webhook' || trigger.body.urgent == true"

  concurrency {
    limit    = 1
    on_limit = "queue"
  }

  step "notify" {
    uses = "chatapi.send_message"
    if   = "vars.team == 'ops'"
    with = {
      phone = "{{ vars.phone }}"
      body  = "Good morning {{ vars.team }}, you are on call today."
    }
    override = {
      config = { instance_id = "67890" }
      body   = { quotedMsgId = "false_1@c.us_X" }
    }
    retry {
      max_attempts     = 5
      initial_interval = "1s"
      max_interval     = "1m"
    }
    timeout = "30s"
    fallback {
      uses = "whatsapp_cc.send_single"
      with = { to = { mobile = "{{ vars.phone }}" }, fb_template = "oncall", language = "en",
        params = ["{{ '{{name}}' }}", "{{ steps.notify.error }}"] }
    }
  }
  step "each" {
    for_each    = "{{ trigger.body.recipients }}"
    parallelism = 16
    uses        = "chatapi.send_message"
    with        = { phone = "{{ item.phone }}", body = "Hi {{ item.name }} ({{ index + 1 }})" }
    continue_on_error = true
    on_in_doubt = "reconcile"
    window {
      days     = "MON-FRI"
      hours    = "08:00-21:00"
      timezone = "{{ item.tz }}"
    }
  }
}

workflow "support-echo" {
  trigger "event" {
    event    = "chatwoot.message_created"
    provider = "support"
  }
  trigger "cron" {
    schedule = "@every 1h"
  }
  when = "trigger.kind != 'event' || trigger.event.message_type == 'incoming'"

  step "reply" {
    uses = "support.send_message"
    window {
      hours    = "22:00-06:00"
      timezone = "Europe/Berlin"
      outside  = "skip"
    }
    with = {
      contact = { identifier = "{{ trigger.event.sender.identifier }}" }
      content = "We got your message: {{ trigger.event.content }}"
      private = false
    }
    retry {
      multiplier = 1.5
    }
    timeout = "10s"
  }
  step "audit" {
    uses = "chatapi.send_message"
    if   = "steps.reply.status == 'succeeded'"
    with = {
      chat_id          = "ops@g.us"
      body             = "replied to {{ steps.reply.output.contact_id }} at {{ now }}"
      mentioned_phones = ["14155550123", "4915112345678"]
    }
  }
}

workflow "page-oncall" {
  trigger "webhook" {
    path            = "page"
    respond         = "output"
    respond_timeout = "5s"
  }
  step "page" {
    uses = "chatapi.send_message"
    with = { phone = "{{ trigger.body.phone }}", body = "Ack: {{ run.signal_url.ack }}" }
  }
  step "settle" {
    wait {
      duration = "10s"
    }
  }
  step "ack" {
    wait_for {
      event   = "chatapi.ack"
      match   = "event.id == steps.page.output.id && event.status == 'viewed'"
      signal  = "ack"
      timeout = "{{ has(trigger.body.ack_timeout) ? trigger.body.ack_timeout : '5m' }}"
    }
  }
  step "escalate" {
    if   = "!steps.ack.output.matched"
    uses = "whatsapp_cc.send_single"
    with = { to = { mobile = "{{ trigger.body.phone }}" }, fb_template = "oncall", language = "en" }
  }
  step "later" {
    wait {
      until = "{{ trigger.time + duration('1h') }}"
    }
    continue_on_error = true
  }
}
