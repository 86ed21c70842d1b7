# Chatwoot: open or reuse a conversation for a customer, and answer incoming
# messages that Chatwoot's signed webhooks report.
workflow "support-ticket" {
  description = "Create a Chatwoot contact, conversation and message step by step"

  step "contact" {
    uses = "support.create_contact"
    with = {
      name         = "{{ trigger.body.name }}"
      email        = "{{ trigger.body.email }}"
      phone_number = "{{ trigger.body.phone }}"
      identifier   = "{{ trigger.body.customer_id }}"
    }
  }
  step "conversation" {
    uses = "support.create_conversation"
    with = {
      source_id  = "{{ steps.contact.output.source_id }}"
      contact_id = "{{ steps.contact.output.contact_id }}"
      status     = "open"
    }
  }
  step "message" {
    uses = "support.create_message"
    with = {
      conversation_id = "{{ steps.conversation.output.conversation_id }}"
      content         = "Hi {{ trigger.body.name }}, we opened ticket {{ run.id }} for you."
    }
  }
  step "lookup" {
    uses = "support.search_contacts"
    with = { q = "{{ trigger.body.customer_id }}" }
  }
}

workflow "support-autoreply" {
  description = "Acknowledge every incoming Chatwoot message"

  trigger "event" {
    event    = "chatwoot.message_created"
    provider = "support"
  }
  when = "trigger.kind == 'event' && trigger.event.message_type == 'incoming'"

  step "ack" {
    uses = "support.create_message"
    with = {
      conversation_id = "{{ trigger.event.conversation.id }}"
      content         = "Thanks, we got your message and will answer shortly."
    }
  }
}
