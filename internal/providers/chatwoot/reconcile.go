package chatwoot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Chatwoot takes no idempotency key and de-duplicates nothing, but its
// records can be looked up: contacts by identifier, phone number or email
// (GET /contacts/search), a contact's conversations, a conversation's
// messages. When a send's answer is lost, the lookups below find what the
// send created. A message carries the call's idempotency key as echo_id;
// Chatwoot echoes it in its answer and realtime events but does not keep
// it, so a listed message is matched by what Chatwoot does keep: its
// content, type and privacy, created at or after the attempt started
// (created_at is whole seconds, so the start is truncated to its second).
// A listed message that does carry an echo_id must carry the call's.

// The reconcile notes of the actions' descriptions, for the provider
// reference.
const (
	messageMatchNote = "the message is matched by what Chatwoot keeps: the same content, message_type and private flag, created at or after the attempt's start " +
		"truncated to the second (created_at is whole seconds). The step's idempotency key travels as echo_id, which Chatwoot echoes in its answer and realtime events " +
		"but does not store, so it cannot be matched later (where a listed message does carry an echo_id, it must be the step's). " +
		"Herald does not set the message's source_id, which Chatwoot does store, because Chatwoot takes a message with a source_id for one that came from the channel and does not deliver it. " +
		"Limits: two identical messages to one conversation within that window count as one; only the last 100 messages (5 pages) of a conversation are searched."
	createMessageReconcileNote = "Chatwoot takes no idempotency key. In doubt (the answer was lost after the request was sent, or the host died mid-call), " +
		"Herald reconciles through GET …/conversations/{conversation_id}/messages: " + messageMatchNote
	sendMessageReconcileNote = "Chatwoot takes no idempotency key. In doubt, Herald reconciles stage by stage: the contact (GET …/contacts/search, exact match on the " +
		"contact keys; none: nothing was sent), its conversations in the inbox (GET …/contacts/{id}/conversations, the 5 most recent; none: nothing was sent), " +
		"then each conversation's messages (GET …/conversations/{id}/messages): " + messageMatchNote +
		" A send found missing is sent again safely at any stage, since send_message reuses the contact and open conversation it finds."
	createContactReconcileNote = "In doubt, Herald reconciles through GET …/contacts/search: the contact identifier (else phone_number, else email) is the key Chatwoot keeps unique, " +
		"so a contact with exactly that value and a session in the inbox is the one created, and its output is returned. " +
		"Limits: a contact that already existed with that key and a session in the inbox counts as created; a contact with only a name cannot be looked up, " +
		"so the run needs attention."
)

// maxMessagePages bounds how many pages of a conversation's messages a
// lookup reads going back to the attempt's start; Chatwoot lists 20 a page.
const maxMessagePages = 5

// maxLookupConversations bounds how many of a contact's conversations in
// the inbox send_message's lookup searches, most recent first.
const maxLookupConversations = 5

// listedMessage is one message of GET /conversations/{id}/messages, as
// Message#push_event_data renders it.
type listedMessage struct {
	ID          int64           `json:"id"`
	Content     *string         `json:"content"`
	MessageType json.RawMessage `json:"message_type"`
	Private     bool            `json:"private"`
	CreatedAt   int64           `json:"created_at"`
	EchoID      *string         `json:"echo_id"`
}

// wantMessage is what identifies a created message.
type wantMessage struct {
	Content string
	// Outgoing is message_type outgoing (the default) rather than incoming.
	Outgoing bool
	Private  bool
	EchoID   string
}

// wantedMessage returns what identifies the message call creates: its
// request body, override included, read back as Chatwoot reads it.
func wantedMessage(call *sdk.Call, in messageInput) wantMessage {
	body := in.body(call)
	if len(call.BodyOverride) > 0 {
		body = sdk.MergeBody(body, call.BodyOverride)
	}
	w := wantMessage{Outgoing: true}
	w.Content, _ = body["content"].(string)
	if t, _ := body["message_type"].(string); t == "incoming" {
		w.Outgoing = false
	}
	w.Private, _ = body["private"].(bool)
	w.EchoID, _ = body["echo_id"].(string)
	return w
}

// outgoing reports whether a listed message_type, the enum's integer or its
// name, is outgoing.
func outgoing(raw json.RawMessage) bool {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n == 1
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "outgoing"
}

// matches reports whether m is the message w describes, created at or after
// since (compared in whole seconds).
func (w wantMessage) matches(m listedMessage, since time.Time) bool {
	if m.EchoID != nil && *m.EchoID != "" && w.EchoID != "" {
		// Where Chatwoot does keep the echo_id, it decides.
		return *m.EchoID == w.EchoID
	}
	return m.CreatedAt >= since.Unix() &&
		m.Content != nil && *m.Content == w.Content &&
		outgoing(m.MessageType) == w.Outgoing &&
		m.Private == w.Private
}

// findMessage reads conversation convID's messages, newest page first and
// back to since, and returns the earliest that matches w. A 404 means the
// conversation does not exist, so the message was not created in it.
func (c *client) findMessage(ctx context.Context, convID int64, w wantMessage, since time.Time) (*listedMessage, error) {
	var before int64
	var match *listedMessage
	for range maxMessagePages {
		query := url.Values{}
		if before > 0 {
			query.Set("before", strconv.FormatInt(before, 10))
		}
		resp, err := c.do(ctx, http.MethodGet, c.s.accountURL("/conversations/%d/messages", convID), query, nil, false)
		if hasStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var page struct {
			Payload []listedMessage `json:"payload"`
		}
		if err := decodeStrict(resp.Body, &page, "message list"); err != nil {
			return nil, err
		}
		// A page is in ascending order; the earliest match wins, so a
		// match on an older page replaces one on a newer page.
		for i := len(page.Payload) - 1; i >= 0; i-- {
			if w.matches(page.Payload[i], since) {
				match = &page.Payload[i]
			}
		}
		if len(page.Payload) == 0 || page.Payload[0].CreatedAt < since.Unix() {
			return match, nil
		}
		before = page.Payload[0].ID
	}
	return match, nil
}

// reconcileMessage is create_message's reconcile handler.
func (p *Provider) reconcileMessage(ctx context.Context, call *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
	var in struct {
		ConversationID int64 `json:"conversation_id"`
		messageInput
	}
	if err := call.Bind(&in); err != nil {
		return sdk.Reconciliation{}, err
	}
	c, err := p.client(call)
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	m, err := c.findMessage(ctx, in.ConversationID, wantedMessage(call, in.messageInput), since)
	if err != nil {
		return unknownResult("list messages", err), nil
	}
	if m == nil {
		return sdk.Reconciliation{Status: sdk.ReconcileNotFound, Detail: fmt.Sprintf("no message like it in conversation %d since %s", in.ConversationID, second(since))}, nil
	}
	return sdk.Reconciliation{
		Status: sdk.ReconcileFound,
		Output: map[string]any{"message_id": knownID(m.ID)},
		Detail: fmt.Sprintf("message %d in conversation %d", m.ID, in.ConversationID),
	}, nil
}

// reconcileContact is create_contact's reconcile handler: a contact with the input's
// identifier (else phone number, else email) that has a session in the
// inbox. A contact with a name only cannot be looked up: unknown.
func (p *Provider) reconcileContact(ctx context.Context, call *sdk.Call, _ time.Time) (sdk.Reconciliation, error) {
	var in contactInput
	if err := call.Bind(&in); err != nil {
		return sdk.Reconciliation{}, err
	}
	keys := in.lookupKeys()
	if len(keys) == 0 {
		return sdk.Reconciliation{Status: sdk.ReconcileUnknown, Detail: "a contact without identifier, phone_number or email cannot be looked up"}, nil
	}
	c, err := p.client(call)
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	ct, sourceID, answer := c.lookupSession(ctx, keys)
	if answer != nil {
		return *answer, nil
	}
	return sdk.Reconciliation{
		Status: sdk.ReconcileFound,
		Output: map[string]any{"contact_id": knownID(ct.ID), "source_id": sourceID},
		Detail: fmt.Sprintf("contact %d with a session in inbox %d", ct.ID, c.s.inboxID),
	}, nil
}

// reconcileSendMessage is send_message's reconcile handler, stage by stage: the contact
// (not found: nothing was sent), its conversations in the inbox (none:
// nothing was sent), then the message in each of them, most recent first.
// A send that is found missing is safe to send again at every stage, since
// send_message reuses the contact and open conversation it finds.
func (p *Provider) reconcileSendMessage(ctx context.Context, call *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
	var in struct {
		Contact contactInput `json:"contact"`
		messageInput
	}
	if err := call.Bind(&in); err != nil {
		return sdk.Reconciliation{}, err
	}
	keys := in.Contact.lookupKeys()
	if len(keys) == 0 {
		return sdk.Reconciliation{}, sdk.InvalidInput("contact", "set at least one of identifier, phone_number or email")
	}
	c, err := p.client(call)
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	ct, sourceID, answer := c.lookupSession(ctx, keys)
	if answer != nil {
		return *answer, nil
	}
	convs, err := c.inboxConversations(ctx, ct.ID)
	if err != nil {
		return unknownResult("list conversations", err), nil
	}
	want := wantedMessage(call, in.messageInput)
	for i, conv := range convs {
		if i == maxLookupConversations {
			break
		}
		m, err := c.findMessage(ctx, conv.ID, want, since)
		if err != nil {
			return unknownResult("list messages", err), nil
		}
		if m != nil {
			return sdk.Reconciliation{
				Status: sdk.ReconcileFound,
				Output: map[string]any{
					"contact_id":      knownID(ct.ID),
					"source_id":       sourceID,
					"conversation_id": knownID(conv.ID),
					"message_id":      knownID(m.ID),
				},
				Detail: fmt.Sprintf("message %d in conversation %d of contact %d", m.ID, conv.ID, ct.ID),
			}, nil
		}
	}
	return sdk.Reconciliation{Status: sdk.ReconcileNotFound, Detail: fmt.Sprintf("no message like it in the %d conversation(s) of contact %d in inbox %d since %s", min(len(convs), maxLookupConversations), ct.ID, c.s.inboxID, second(since))}, nil
}

// lookupSession finds the contact that keys name exactly and its session
// (source_id) in the instance's inbox. When there is none, or the search
// fails, answer is the lookup's final answer: not found (a contact or
// session this call would have created does not exist), or unknown.
func (c *client) lookupSession(ctx context.Context, keys []lookupKey) (ct *contact, sourceID string, answer *sdk.Reconciliation) {
	ct, err := c.findContact(ctx, keys)
	if err != nil {
		r := unknownResult("search contacts", err)
		return nil, "", &r
	}
	if ct == nil {
		return nil, "", &sdk.Reconciliation{Status: sdk.ReconcileNotFound, Detail: "no contact with " + keys[0].field + " " + keys[0].value}
	}
	sourceID, ok := ct.sourceIDIn(c.s.inboxID)
	if !ok {
		return nil, "", &sdk.Reconciliation{Status: sdk.ReconcileNotFound, Detail: fmt.Sprintf("contact %d has no session in inbox %d", ct.ID, c.s.inboxID)}
	}
	return ct, sourceID, nil
}

// unknownResult is the answer when a lookup request failed: it tells
// nothing about the send.
func unknownResult(during string, err error) sdk.Reconciliation {
	return sdk.Reconciliation{Status: sdk.ReconcileUnknown, Detail: during + ": " + sdk.AsError(err).Message}
}

// second formats t truncated to its second, as lookups compare it.
func second(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
