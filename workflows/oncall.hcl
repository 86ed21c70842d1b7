# On-call reminder: every 30 seconds in the demo (a real one would say
# "0 9 * * MON-FRI"), and on demand through a signed webhook.
workflow "oncall-digest" {
  description = "On-call reminder over WhatsApp, with a template fallback"
  vars = {
    phone = "14155550123"
    team  = "ops"
  }

  trigger "cron" {
    schedule = "*/30 * * * * *"
    timezone = "Europe/Berlin"
    catchup  = "latest"
  }
  trigger "webhook" {
    path   = "oncall"
    secret = "{{ secrets.HOOK_SECRET }}"
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
      body = { quotedMsgId = "false_14155550123@c.us_3EB0C431C26A1916603A" }
    }
    retry {
      max_attempts     = 5
      initial_interval = "1s"
      max_interval     = "1m"
    }
    timeout = "30s"
    fallback {
      uses = "whatsapp_cc.send_single"
      with = {
        to          = { mobile = "{{ vars.phone }}", name = "On-call" }
        fb_template = "oncall"
        language    = "en"
        params      = ["{{ vars.team }}"]
      }
    }
  }

  step "log_to_support" {
    uses = "support.send_message"
    with = {
      contact = { identifier = "oncall-{{ vars.team }}", phone_number = "+{{ vars.phone }}", name = "On-call {{ vars.team }}" }
      content = "Reminder sent through {{ steps.notify.provider }} ({{ steps.notify.status }})."
      private = true
    }
    continue_on_error = true
  }
}
