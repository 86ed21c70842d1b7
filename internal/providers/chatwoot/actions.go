package chatwoot

import (
	"context"
	"encoding/json"

	"github.com/heraldhq/herald/sdk"
)

// e164 is the phone number format Chatwoot's Contact model enforces.
const e164 = `^\+[1-9]\d{1,14}$`

// emailPattern is a loose check that catches obvious typos; Chatwoot applies
// its own, stricter one.
const emailPattern = `^[^@\s]+@[^@\s]+$`

// contactFields are the contact attributes the actions accept.
func contactFields() []sdk.Field {
	return []sdk.Field{
		sdk.String("name", "Contact name.").WithExample("Jane Doe"),
		sdk.String("email", "Contact email address.").Matching(emailPattern).WithExample("jane@example.com"),
		sdk.String("phone_number", "Phone number in E.164 format, as Chatwoot requires.").
			Matching(e164).WithExample("+14155550123"),
		sdk.String("identifier", "The contact's ID in your own system.").WithExample("crm-0042"),
	}
}

// messageFields are the message attributes send_message and create_message
// accept besides content.
func messageFields() []sdk.Field {
	return []sdk.Field{
		sdk.String("content", "Message text.").AsRequired(),
		sdk.String("message_type", "outgoing (from an agent) or incoming (from the contact; API inboxes only).").
			OneOf("outgoing", "incoming").WithDefault("outgoing"),
		sdk.Bool("private", "Create a private note, visible to agents only."),
		sdk.Map("content_attributes", "Attributes for the message's content type, such as in_reply_to."),
	}
}

// messageInput is the message part of send_message and create_message.
type messageInput struct {
	Content           string         `json:"content"`
	MessageType       string         `json:"message_type"`
	Private           *bool          `json:"private"`
	ContentAttributes map[string]any `json:"content_attributes"`
}

// body returns the POST /conversations/{id}/messages body. The call's
// idempotency key travels as echo_id: Chatwoot does not de-duplicate on it,
// but echoes it in the response and in the message's realtime events, which
// ties a message to the Herald step that sent it.
func (m messageInput) body(call *sdk.Call) map[string]any {
	body := map[string]any{"content": m.Content}
	if m.MessageType != "" {
		body["message_type"] = m.MessageType
	}
	if m.Private != nil {
		body["private"] = *m.Private
	}
	if m.ContentAttributes != nil {
		body["content_attributes"] = m.ContentAttributes
	}
	if call.IdempotencyKey != "" {
		body["echo_id"] = call.IdempotencyKey
	}
	return body
}

// contactInput is a contact's attributes.
type contactInput struct {
	Name             string         `json:"name"`
	Email            string         `json:"email"`
	PhoneNumber      string         `json:"phone_number"`
	Identifier       string         `json:"identifier"`
	CustomAttributes map[string]any `json:"custom_attributes"`
}

// body returns the POST /contacts body for the contact in inbox.
func (c contactInput) body(inbox int64) map[string]any {
	body := map[string]any{"inbox_id": inbox}
	for k, v := range map[string]string{
		"name": c.Name, "email": c.Email, "phone_number": c.PhoneNumber, "identifier": c.Identifier,
	} {
		if v != "" {
			body[k] = v
		}
	}
	if c.CustomAttributes != nil {
		body["custom_attributes"] = c.CustomAttributes
	}
	return body
}

func (p *Provider) createContactAction() sdk.Action {
	return sdk.Action{
		Name:        "create_contact",
		Description: "Create a contact with a session (contact inbox) in the instance's inbox: POST /api/v1/accounts/{account_id}/contacts. " + createContactReconcileNote,
		Input: sdk.Fields(append(contactFields(),
			sdk.Map("custom_attributes", "Custom attributes; each needs a custom attribute definition in Chatwoot."),
		)...),
		Output: sdk.Fields(
			sdk.Integer("contact_id", "ID of the new contact."),
			sdk.String("source_id", "The contact's session in the inbox; create_conversation takes it."),
		),
		Run:       p.createContact,
		Reconcile: p.reconcileContact,
	}
}

func (p *Provider) createContact(ctx context.Context, call *sdk.Call) (any, error) {
	var in contactInput
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	c, err := p.client(call)
	if err != nil {
		return nil, err
	}
	contactID, sourceID, err := c.createContact(ctx, in.body(c.s.inboxID), true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"contact_id": contactID, "source_id": sourceID}, nil
}

func (p *Provider) createConversationAction() sdk.Action {
	return sdk.Action{
		Name:        "create_conversation",
		Description: "Open a conversation for a contact's session in the instance's inbox: POST /api/v1/accounts/{account_id}/conversations.",
		Input: sdk.Fields(
			sdk.String("source_id", "The contact's session, from create_contact or send_message.").AsRequired(),
			sdk.Integer("contact_id", "The contact; with it Chatwoot creates the session if source_id is new."),
			sdk.String("status", "Initial status.").OneOf("open", "resolved", "pending"),
			sdk.Integer("assignee_id", "Agent to assign the conversation to."),
			sdk.Integer("team_id", "Team to assign the conversation to."),
			sdk.Map("custom_attributes", "Conversation custom attributes."),
			sdk.Object("message", "A first message to create with the conversation.",
				sdk.String("content", "Message text.").AsRequired(),
				sdk.Map("template_params", "WhatsApp template parameters (WhatsApp inboxes only)."),
			),
		),
		Output: sdk.Fields(
			sdk.Integer("conversation_id", "ID of the new conversation (its display id in the account)."),
		),
		Run: p.createConversation,
	}
}

func (p *Provider) createConversation(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		SourceID         string         `json:"source_id"`
		ContactID        *int64         `json:"contact_id"`
		Status           string         `json:"status"`
		AssigneeID       *int64         `json:"assignee_id"`
		TeamID           *int64         `json:"team_id"`
		CustomAttributes map[string]any `json:"custom_attributes"`
		Message          map[string]any `json:"message"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	c, err := p.client(call)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"source_id": in.SourceID, "inbox_id": c.s.inboxID}
	if in.ContactID != nil {
		body["contact_id"] = *in.ContactID
	}
	if in.Status != "" {
		body["status"] = in.Status
	}
	if in.AssigneeID != nil {
		body["assignee_id"] = *in.AssigneeID
	}
	if in.TeamID != nil {
		body["team_id"] = *in.TeamID
	}
	if in.CustomAttributes != nil {
		body["custom_attributes"] = in.CustomAttributes
	}
	if in.Message != nil {
		body["message"] = in.Message
	}
	convID, err := c.createConversation(ctx, body, true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"conversation_id": convID}, nil
}

func (p *Provider) createMessageAction() sdk.Action {
	return sdk.Action{
		Name:        "create_message",
		Description: "Create a message in a conversation: POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages. " + createMessageReconcileNote,
		Input: sdk.Fields(append([]sdk.Field{
			sdk.Integer("conversation_id", "The conversation (its display id in the account).").AsRequired(),
		}, messageFields()...)...),
		Output: sdk.Fields(
			sdk.Integer("message_id", "ID of the new message."),
		),
		Delivery:  messageDelivery,
		Run:       p.createMessage,
		Reconcile: p.reconcileMessage,
	}
}

func (p *Provider) createMessage(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		ConversationID int64 `json:"conversation_id"`
		messageInput
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	if in.ConversationID <= 0 {
		return nil, sdk.InvalidInput("conversation_id", "must be a positive integer")
	}
	c, err := p.client(call)
	if err != nil {
		return nil, err
	}
	msgID, err := c.createMessage(ctx, knownID(in.ConversationID), in.messageInput.body(call), true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"message_id": msgID}, nil
}

func (p *Provider) searchContactsAction() sdk.Action {
	return sdk.Action{
		Name:        "search_contacts",
		Description: "Search contacts by name, identifier, email or phone number (substring match, 15 a page): GET /api/v1/accounts/{account_id}/contacts/search.",
		Input: sdk.Fields(
			sdk.String("q", "Search text.").AsRequired(),
			sdk.Integer("page", "Page of results, from 1.").WithDefault(1),
		),
		Output: sdk.Fields(
			sdk.Array("contacts", "Matching contacts as Chatwoot returns them, with their contact_inboxes.", sdk.Map("", "")),
			sdk.Bool("has_more", "Whether a further page has results."),
		),
		Run: p.searchContacts,
	}
}

func (p *Provider) searchContacts(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		Q    string `json:"q"`
		Page int    `json:"page"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	if in.Q == "" {
		return nil, sdk.InvalidInput("q", "must not be empty")
	}
	if in.Page < 1 {
		return nil, sdk.InvalidInput("page", "must be 1 or more")
	}
	c, err := p.client(call)
	if err != nil {
		return nil, err
	}
	page, err := c.searchContacts(ctx, in.Q, in.Page)
	if err != nil {
		return nil, err
	}
	contacts := make([]json.RawMessage, 0, len(page.Payload))
	contacts = append(contacts, page.Payload...)
	return map[string]any{"contacts": contacts, "has_more": page.hasMore()}, nil
}

// hasMore reports whether another page follows: Chatwoot's meta.has_more
// where it sends one, else whether the page was full.
func (r *searchResponse) hasMore() bool {
	if r.Meta.HasMore != nil {
		return *r.Meta.HasMore
	}
	return len(r.Payload) >= searchPageSize
}
