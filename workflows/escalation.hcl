# Escalate unless acknowledged: page the on-call person on WhatsApp with an
# acknowledge link, then wait up to vars.ack_timeout (2 minutes, unless the
# webhook's body sets ack_timeout, such as "20s" for a demo) for either Chat
# API's read receipt of the page or a click on the link. If neither comes,
# escalate: a WhatsApp template to the backup through ChitChatLabs, and a
# Chatwoot conversation so the support team sees it.
#
# Try it against the sandbox, which posts Chat API's receipts back to Herald
# (sent, delivered, then read, 2 s apart; --receipt-final delivered never
# reads it, so the page escalates after the timeout):
#
#   herald sandbox --receipts-to chatapi=http://127.0.0.1:8080/providers/chatapi/webhook --receipt-delay 2s &
#   herald serve --dir workflows --secrets-file workflows/sandbox.env --public-url http://127.0.0.1:8080 &
#   curl -X POST http://127.0.0.1:8080/hooks/escalation -d '{"summary":"db-1 disk full","ack_timeout":"20s"}'
#   herald runs show <run id> --dir workflows
workflow "escalation" {
  description = "Page on-call; escalate unless the page is read or acknowledged within vars.ack_timeout (2 minutes by default)"
  vars = {
    oncall  = "{{ has(trigger.body.oncall) ? trigger.body.oncall : '14155550100' }}"
    backup  = "{{ has(trigger.body.backup) ? trigger.body.backup : '14155550111' }}"
    summary = "{{ has(trigger.body.summary) ? trigger.body.summary : 'Incident' }}"
    # How long the page may go unread and unacknowledged: a duration such as
    # "2m" or "20s", rendered when the ack step starts.
    ack_timeout = "{{ has(trigger.body.ack_timeout) ? trigger.body.ack_timeout : '2m' }}"
  }

  trigger "webhook" {
    path = "escalation"
  }

  step "page" {
    uses = "chatapi.send_message"
    with = {
      phone = "{{ vars.oncall }}"
      body  = "{{ vars.summary }}. Acknowledge: {{ run.signal_url.ack }}"
    }
  }

  # Chat API reports the page's delivery with chatapi.ack events; Herald
  # records them as steps.page.delivery, so the match reads the status
  # already recorded (read beats delivered beats sent, whatever order the
  # acks come in). The link's signal ends the wait as well.
  step "ack" {
    wait_for {
      event   = "chatapi.ack"
      match   = "steps.page.delivery != null && steps.page.delivery.status == 'read'"
      signal  = "ack"
      timeout = "{{ vars.ack_timeout }}"
    }
  }

  step "escalate" {
    if   = "!steps.ack.output.matched"
    uses = "whatsapp_cc.send_single"
    with = {
      to          = { mobile = "{{ vars.backup }}" }
      fb_template = "oncall_escalation"
      language    = "en"
      params      = ["{{ vars.summary }}", "{{ vars.oncall }}"]
    }
  }

  step "ticket" {
    if   = "!steps.ack.output.matched"
    uses = "support.send_message"
    with = {
      contact = { identifier = "oncall-backup", name = "Backup on-call" }
      content = "Escalated: {{ vars.summary }}. {{ vars.oncall }} neither read nor acknowledged the page within {{ vars.ack_timeout }}."
    }
  }
}
