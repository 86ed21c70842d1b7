package chatwoot

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// maxSearchPages bounds how many pages of a contact search send_message reads
// looking for an exact match: Chatwoot's search matches substrings, so a
// short identifier can match many contacts.
const maxSearchPages = 5

// contactKey names the contact of a send_message: identifier, else phone
// number, else email, the order send_message searches in.
const contactKey = "has(input.contact.identifier) ? input.contact.identifier : has(input.contact.phone_number) ? input.contact.phone_number : input.contact.email"

func (p *Provider) sendMessageAction() sdk.Action {
	return sdk.Action{
		Name: "send_message",
		Description: "Send a message to a contact in the instance's inbox: find the contact (by identifier, else phone_number, else email) " +
			"or create it, reuse its open conversation in the inbox or open one, then create the message. " +
			"override.body applies to the message request. " + sendMessageReconcileNote,
		Input: sdk.Fields(append([]sdk.Field{
			sdk.Object("contact", "Who to message; set at least one of identifier, phone_number or email.", contactFields()...).RequireOneOrMore("identifier", "phone_number", "email").AsRequired(),
		}, messageFields()...)...),
		// The contact is the recipient a recipient_rate_limit counts by.
		// Chatwoot's own limits are its installation's (Rack::Attack), so
		// none is declared.
		RecipientLimit: &sdk.RecipientLimit{Expr: contactKey},
		Output: sdk.Fields(
			sdk.Integer("contact_id", "The contact found or created."),
			sdk.String("source_id", "The contact's session in the inbox."),
			sdk.Integer("conversation_id", "The conversation reused or created."),
			sdk.Integer("message_id", "The message created."),
		),
		Delivery:  messageDelivery,
		Run:       p.sendMessage,
		Reconcile: p.reconcileSendMessage,
	}
}

// lookupKey is one contact attribute send_message searches by.
type lookupKey struct {
	field, value string
}

// lookupKeys returns the contact's attributes to search by, in order.
func (c contactInput) lookupKeys() []lookupKey {
	var keys []lookupKey
	for _, k := range []lookupKey{
		{"identifier", c.Identifier},
		{"phone_number", c.PhoneNumber},
		{"email", c.Email},
	} {
		if k.value != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// matches reports whether ct has exactly the key's value: Chatwoot's search
// also returns contacts that merely contain it, in any searched attribute.
func (k lookupKey) matches(ct *contact) bool {
	switch k.field {
	case "identifier":
		return ct.Identifier == k.value
	case "phone_number":
		return ct.PhoneNumber == k.value
	default:
		// Chatwoot stores emails in lower case.
		return strings.EqualFold(ct.Email, k.value)
	}
}

func (p *Provider) sendMessage(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		Contact contactInput `json:"contact"`
		messageInput
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	keys := in.Contact.lookupKeys()
	if len(keys) == 0 {
		return nil, sdk.InvalidInput("contact", "set at least one of identifier, phone_number or email")
	}
	c, err := p.client(call)
	if err != nil {
		return nil, err
	}

	found, err := c.findContact(ctx, keys)
	if err != nil {
		return nil, during("search contacts", err)
	}
	var contactID recordID
	var sourceID string
	if found == nil {
		contactID, sourceID, err = c.createContact(ctx, in.Contact.body(c.s.inboxID), false)
		if hasStatus(err, http.StatusUnprocessableEntity) {
			// Another run may have created the contact since the search:
			// Chatwoot refuses a second one with the same identifier, phone
			// number or email. Use it.
			found, _ = c.findContact(ctx, keys)
		}
		if err != nil && found == nil {
			return nil, during("create contact", err)
		}
	}
	var convID recordID
	if found != nil {
		contactID = knownID(found.ID)
		var ok bool
		if sourceID, ok = found.sourceIDIn(c.s.inboxID); !ok {
			if sourceID, err = c.createContactInbox(ctx, found.ID); err != nil {
				return nil, during("create contact inbox", err)
			}
		}
		conv, err := c.openConversation(ctx, found.ID)
		if err != nil {
			return nil, during("list conversations", err)
		}
		if conv != nil {
			convID = knownID(conv.ID)
		}
	}
	if convID == (recordID{}) {
		body := map[string]any{"source_id": sourceID, "inbox_id": c.s.inboxID, "contact_id": contactID}
		if convID, err = c.createConversation(ctx, body, false); err != nil {
			return nil, during("create conversation", err)
		}
	}
	msgID, err := c.createMessage(ctx, convID, in.messageInput.body(call), true)
	if err != nil {
		return nil, during("create message", err)
	}
	return map[string]any{
		"contact_id":      contactID,
		"source_id":       sourceID,
		"conversation_id": convID,
		"message_id":      msgID,
	}, nil
}

// findContact searches by each key in turn and returns the first contact
// that matches one exactly, or nil. In dry-run mode every search is rendered
// and nothing is found.
func (c *client) findContact(ctx context.Context, keys []lookupKey) (*contact, error) {
	for _, k := range keys {
		for page := 1; page <= maxSearchPages; page++ {
			res, err := c.searchContacts(ctx, k.value, page)
			if err != nil {
				return nil, err
			}
			for _, raw := range res.Payload {
				var ct contact
				if err := decodeStrict(raw, &ct, "contact in search results"); err != nil {
					return nil, err
				}
				if ct.ID > 0 && k.matches(&ct) {
					return &ct, nil
				}
			}
			if !res.hasMore() {
				break
			}
		}
	}
	return nil, nil
}

// during names the step of send_message that err happened in, keeping the
// error's class, status code and retry-after.
func during(step string, err error) error {
	e := *sdk.AsError(err)
	e.Message = step + ": " + e.Message
	return &e
}

// hasStatus reports whether err is a provider answer with HTTP status code.
func hasStatus(err error, code int) bool {
	var e *sdk.Error
	return errors.As(err, &e) && e.StatusCode == code
}
