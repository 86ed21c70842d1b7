package chatwoot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// The headers Chatwoot (v4.12 and later) signs its webhooks with.
const (
	headerSignature = "X-Chatwoot-Signature"
	headerTimestamp = "X-Chatwoot-Timestamp"
	headerDelivery  = "X-Chatwoot-Delivery"
)

// eventName is what a webhook's "event" field must look like to become the
// event type chatwoot.<event>.
var eventName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// HandleWebhook turns a Chatwoot webhook into one chatwoot.<event> event
// whose data is the payload. With webhook_secret set, X-Chatwoot-Signature
// must be "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)) and
// X-Chatwoot-Timestamp within webhook_tolerance of now. A delivery whose
// X-Chatwoot-Delivery id was seen before yields no events; the id is the
// event's ID, on which the host de-duplicates durably.
func (p *Provider) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	secret := req.Config.String("webhook_secret")
	if secret != "" {
		tolerance := defaultTolerance
		if v := req.Config.String("webhook_tolerance"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, sdk.Permanent(fmt.Errorf("instance %s: webhook_tolerance %q is not a positive duration", req.Instance, v))
			}
			tolerance = d
		}
		if err := verifySignature(req.Header, req.Body, secret, p.now(), tolerance); err != nil {
			return nil, err
		}
	}

	var payload map[string]json.RawMessage
	if err := json.Unmarshal(req.Body, &payload); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("chatwoot webhook body is not a JSON object: %v", err))
	}
	var event string
	if raw, ok := payload["event"]; !ok || json.Unmarshal(raw, &event) != nil || !eventName.MatchString(event) {
		return nil, sdk.Permanent(fmt.Errorf("chatwoot webhook body has no valid \"event\" field"))
	}

	delivery := headerValue(req.Header, headerDelivery)
	if delivery != "" && !p.deliveries.firstSeen(req.Instance+"\x00"+delivery, p.now()) {
		if req.Logger != nil {
			req.Logger.Debug("ignoring replayed chatwoot webhook delivery", "delivery", delivery, "event", event)
		}
		return []sdk.Event{}, nil
	}
	data := bytes.TrimSpace(req.Body)
	ev := sdk.Event{
		Type: "chatwoot." + event,
		ID:   delivery,
		Data: json.RawMessage(data),
	}
	if ev.Type == eventMessageUpdated {
		ev.Receipt = messageReceipt(data)
	}
	return []sdk.Event{ev}, nil
}

// verifySignature checks a signed delivery: the signature over timestamp and
// raw body, in constant time, then the timestamp's age.
func verifySignature(h http.Header, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	sig := headerValue(h, headerSignature)
	if sig == "" {
		return sdk.Unverified("missing %s header", headerSignature)
	}
	ts := headerValue(h, headerTimestamp)
	if ts == "" {
		return sdk.Unverified("missing %s header", headerTimestamp)
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return sdk.Unverified("%s is not of the form sha256=<hex>", headerSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return sdk.Unverified("%s is not of the form sha256=<hex>", headerSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return sdk.Unverified("signature does not match")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return sdk.Unverified("%s is not a Unix time", headerTimestamp)
	}
	if age := now.Sub(time.Unix(secs, 0)); age > tolerance || age < -tolerance {
		return sdk.Unverified("timestamp is %s away from now, more than the %s tolerance", age.Abs().Round(time.Second), tolerance)
	}
	return nil
}

// headerValue returns the first value of the header named name, matching
// the name case-insensitively whether or not h's keys are canonical.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return strings.TrimSpace(v)
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
	}
	return ""
}

// events declares the webhook events Chatwoot sends (app/listeners/
// webhook_listener.rb). Event data is Chatwoot's payload as sent; the fields
// listed are the ones workflows use most, and others are allowed.
func events() []sdk.EventSpec {
	message := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Integer("id", "Message ID."),
		sdk.Any("content", "Message text, or null for a message with attachments only."),
		sdk.String("message_type", "incoming, outgoing, activity or template."),
		sdk.String("content_type", "Content type, such as text."),
		sdk.Bool("private", "Whether the message is a private note."),
		sdk.Any("source_id", "The message's ID in the channel, or null."),
		sdk.Any("created_at", "Creation time."),
		sdk.Map("sender", "The contact or agent who sent it."),
		sdk.Map("conversation", "The conversation."),
		sdk.Map("inbox", "The inbox: id and name."),
		sdk.Map("account", "The account: id and name."),
		sdk.String("event", "The event name."),
	}}
	conversation := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Integer("id", "Conversation ID (display id in the account)."),
		sdk.Integer("inbox_id", "Inbox ID."),
		sdk.String("status", "open, resolved, pending or snoozed."),
		sdk.Array("messages", "The latest messages.", sdk.Map("", "")),
		sdk.Map("meta", "sender (the contact), assignee and team."),
		sdk.Map("contact_inbox", "The contact's session, with source_id."),
		sdk.Map("custom_attributes", "Conversation custom attributes."),
		sdk.Any("changed_attributes", "For updates: the changed attributes, previous and current values."),
		sdk.Map("account", "The account: id and name."),
		sdk.String("event", "The event name."),
	}}
	contact := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Integer("id", "Contact ID."),
		sdk.Any("name", "Name."),
		sdk.Any("email", "Email address, or null."),
		sdk.Any("phone_number", "Phone number, or null."),
		sdk.Any("identifier", "Identifier, or null."),
		sdk.Map("custom_attributes", "Contact custom attributes."),
		sdk.Map("additional_attributes", "Contact additional attributes."),
		sdk.Any("changed_attributes", "For updates: the changed attributes, previous and current values."),
		sdk.Map("account", "The account: id and name."),
		sdk.String("event", "The event name."),
	}}
	typing := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Map("conversation", "The conversation."),
		sdk.Map("user", "Who is typing."),
		sdk.Bool("is_private", "Whether a private note is being typed."),
		sdk.String("event", "The event name."),
	}}
	widget := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Integer("id", "Contact inbox ID."),
		sdk.Map("contact", "The contact."),
		sdk.Map("inbox", "The web widget inbox."),
		sdk.Map("current_conversation", "The contact's open conversation, if any."),
		sdk.String("source_id", "The contact's session."),
		sdk.Map("event_info", "Browser and page details."),
		sdk.String("event", "The event name."),
	}}
	inbox := sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{
		sdk.Integer("id", "Inbox ID."),
		sdk.String("name", "Inbox name."),
		sdk.Any("changed_attributes", "For updates: the changed attributes."),
		sdk.String("event", "The event name."),
	}}
	ev := func(name, description string, data sdk.Schema) sdk.EventSpec {
		d := data
		return sdk.EventSpec{Name: "chatwoot." + name, Description: description, Data: &d}
	}
	return []sdk.EventSpec{
		ev("message_created", "A message was created in a conversation.", message),
		ev("message_updated", "A message was updated, such as its delivery status.", message),
		ev("conversation_created", "A conversation was created.", conversation),
		ev("conversation_status_changed", "A conversation was opened, resolved, snoozed or set pending.", conversation),
		ev("conversation_updated", "A conversation's attributes changed.", conversation),
		ev("conversation_typing_on", "Someone started typing in a conversation.", typing),
		ev("conversation_typing_off", "Someone stopped typing in a conversation.", typing),
		ev("contact_created", "A contact was created.", contact),
		ev("contact_updated", "A contact's attributes changed.", contact),
		ev("webwidget_triggered", "A visitor opened the website chat widget.", widget),
		ev("inbox_created", "An inbox was created.", inbox),
		ev("inbox_updated", "An inbox's attributes changed.", inbox),
	}
}
