package chatwoot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// The shapes below are what Chatwoot v4 actually returns (its jbuilder
// views), which in places differ from its OpenAPI spec; see SOURCE.json in
// the testdata and contract_test.go.

// contact is a contact as api/v1/models/_contact.json.jbuilder renders it
// with contact inboxes.
type contact struct {
	ID             int64          `json:"id"`
	Name           string         `json:"name"`
	Email          string         `json:"email"`
	PhoneNumber    string         `json:"phone_number"`
	Identifier     string         `json:"identifier"`
	ContactInboxes []contactInbox `json:"contact_inboxes"`
}

// contactInbox is a contact's session in one inbox, as
// api/v1/models/_contact_inbox.json.jbuilder renders it.
type contactInbox struct {
	SourceID string `json:"source_id"`
	Inbox    *struct {
		ID int64 `json:"id"`
	} `json:"inbox"`
}

// sourceIDIn returns the source_id of the contact's session in inbox.
func (c *contact) sourceIDIn(inbox int64) (string, bool) {
	for _, ci := range c.ContactInboxes {
		if ci.Inbox != nil && ci.Inbox.ID == inbox && ci.SourceID != "" {
			return ci.SourceID, true
		}
	}
	return "", false
}

// searchResponse is GET /contacts/search.
type searchResponse struct {
	Meta struct {
		HasMore *bool `json:"has_more"`
	} `json:"meta"`
	Payload []json.RawMessage `json:"payload"`
}

// contactCreateResponse is POST /contacts. The spec documents an
// extended_contact; Chatwoot renders contacts/create.json.jbuilder.
type contactCreateResponse struct {
	Payload struct {
		Contact      contact      `json:"contact"`
		ContactInbox contactInbox `json:"contact_inbox"`
	} `json:"payload"`
}

// conversation is a conversation as
// api/v1/conversations/partials/_conversation.json.jbuilder renders it; its
// id is the conversation's display id within the account.
type conversation struct {
	ID      int64  `json:"id"`
	InboxID int64  `json:"inbox_id"`
	Status  string `json:"status"`
}

// message is POST /conversations/{id}/messages.
type message struct {
	ID int64 `json:"id"`
}

// searchPageSize is Chatwoot's page size for contact search.
const searchPageSize = 15

// recordID is a Chatwoot record id, or in dry-run mode a placeholder for an id an
// earlier response would have supplied, such as "{contact_id}".
type recordID struct {
	n           int64
	placeholder string
}

func knownID(n int64) recordID { return recordID{n: n} }

func placeholderID(name string) recordID { return recordID{placeholder: "{" + name + "}"} }

// MarshalJSON encodes the id as a number, or a placeholder as a string.
func (i recordID) MarshalJSON() ([]byte, error) {
	if i.placeholder != "" {
		return json.Marshal(i.placeholder)
	}
	return strconv.AppendInt(nil, i.n, 10), nil
}

func (i recordID) String() string {
	if i.placeholder != "" {
		return i.placeholder
	}
	return strconv.FormatInt(i.n, 10)
}

// client sends one call's requests to one Chatwoot account.
type client struct {
	http *sdk.HTTP
	call *sdk.Call
	s    settings
}

func (p *Provider) client(call *sdk.Call) (*client, error) {
	s, err := parseSettings(call.Config)
	if err != nil {
		return nil, err
	}
	return &client{http: p.http, call: call, s: s}, nil
}

// do sends one request. With mergeBody the call's body override is
// deep-merged into body. In dry-run mode the response is empty and has
// DryRun set.
func (c *client) do(ctx context.Context, method, target string, query url.Values, body any, mergeBody bool) (*sdk.Response, error) {
	header := http.Header{}
	header.Set("api_access_token", c.s.token)
	return c.http.Do(ctx, c.call, sdk.Request{
		Method:    method,
		URL:       target,
		Query:     query,
		Header:    header,
		Body:      body,
		MergeBody: mergeBody,
	})
}

// searchContacts returns one page of GET /contacts/search?q=.
func (c *client) searchContacts(ctx context.Context, q string, page int) (*searchResponse, error) {
	query := url.Values{"q": {q}}
	if page > 1 {
		query.Set("page", strconv.Itoa(page))
	}
	resp, err := c.do(ctx, http.MethodGet, c.s.accountURL("/contacts/search"), query, nil, false)
	if err != nil {
		return nil, err
	}
	if resp.DryRun {
		return &searchResponse{}, nil
	}
	var out searchResponse
	if err := decodeStrict(resp.Body, &out, "contact search result"); err != nil {
		return nil, err
	}
	return &out, nil
}

// decodeStrict decodes one JSON value and reports a body that does not
// match as Chatwoot answering something unexpected: a permanent error.
func decodeStrict(raw []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return sdk.Permanent(fmt.Errorf("chatwoot returned an unexpected %s: %v", what, err))
	}
	return nil
}

// errorMessage extracts Chatwoot's message from an error response. Chatwoot
// renders {"error": "..."} (401, 403, 404, 422), {"message": "...",
// "attributes": [...]} (422 for an invalid record) and Devise's
// {"errors": ["..."]} (401 without a token); the spec documents
// {"description", "errors": [{"field", "message", "code"}]}. All are read.
func errorMessage(body []byte) string {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return sdk.DefaultErrorMessage(body)
	}
	var parts []string
	if s, ok := v["error"].(string); ok && s != "" {
		parts = append(parts, s)
	}
	if s, ok := v["message"].(string); ok && s != "" {
		if attrs := stringList(v["attributes"]); len(attrs) > 0 {
			s += " (" + strings.Join(attrs, ", ") + ")"
		}
		parts = append(parts, s)
	}
	if s, ok := v["description"].(string); ok && s != "" {
		parts = append(parts, s)
	}
	if list, ok := v["errors"].([]any); ok {
		for _, e := range list {
			switch e := e.(type) {
			case string:
				parts = append(parts, e)
			case map[string]any:
				msg, _ := e["message"].(string)
				if field, _ := e["field"].(string); field != "" {
					msg = field + " " + msg
				}
				if msg = strings.TrimSpace(msg); msg != "" {
					parts = append(parts, msg)
				}
			}
		}
	}
	if len(parts) == 0 {
		return sdk.DefaultErrorMessage(body)
	}
	return strings.Join(slices.Compact(parts), "; ")
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// createContact sends POST /contacts with body, which carries inbox_id, and
// returns the new contact's id and its source_id in the inbox.
func (c *client) createContact(ctx context.Context, body map[string]any, mergeBody bool) (recordID, string, error) {
	resp, err := c.do(ctx, http.MethodPost, c.s.accountURL("/contacts"), nil, body, mergeBody)
	if err != nil {
		return recordID{}, "", err
	}
	if resp.DryRun {
		return placeholderID("contact_id"), "{source_id}", nil
	}
	var out contactCreateResponse
	if err := decodeStrict(resp.Body, &out, "contact"); err != nil {
		return recordID{}, "", err
	}
	ct := out.Payload.Contact
	if ct.ID <= 0 {
		return recordID{}, "", sdk.Permanent(errors.New("chatwoot created a contact but returned no contact id"))
	}
	sourceID := out.Payload.ContactInbox.SourceID
	if sourceID == "" {
		sourceID, _ = ct.sourceIDIn(c.s.inboxID)
	}
	if sourceID == "" {
		return recordID{}, "", sdk.Permanent(fmt.Errorf("chatwoot created contact %d but returned no source_id for inbox %d", ct.ID, c.s.inboxID))
	}
	return knownID(ct.ID), sourceID, nil
}

// createContactInbox sends POST /contacts/{id}/contact_inboxes, opening a
// session for the contact in the instance's inbox, and returns its source_id.
func (c *client) createContactInbox(ctx context.Context, contactID int64) (string, error) {
	body := map[string]any{"inbox_id": c.s.inboxID}
	resp, err := c.do(ctx, http.MethodPost, c.s.accountURL("/contacts/%d/contact_inboxes", contactID), nil, body, false)
	if err != nil {
		return "", err
	}
	if resp.DryRun {
		return "{source_id}", nil
	}
	var out contactInbox
	if err := decodeStrict(resp.Body, &out, "contact inbox"); err != nil {
		return "", err
	}
	if out.SourceID == "" {
		return "", sdk.Permanent(fmt.Errorf("chatwoot created a contact inbox for contact %d but returned no source_id", contactID))
	}
	return out.SourceID, nil
}

// openConversation returns the contact's most recent open conversation in
// the instance's inbox, or nil when there is none.
func (c *client) openConversation(ctx context.Context, contactID int64) (*conversation, error) {
	convs, err := c.inboxConversations(ctx, contactID)
	if err != nil {
		return nil, err
	}
	for i := range convs {
		if convs[i].Status == "open" {
			return &convs[i], nil
		}
	}
	return nil, nil
}

// inboxConversations returns the contact's conversations in the instance's
// inbox, from GET /contacts/{id}/conversations (ordered by last activity,
// newest first). In dry-run mode there are none.
func (c *client) inboxConversations(ctx context.Context, contactID int64) ([]conversation, error) {
	resp, err := c.do(ctx, http.MethodGet, c.s.accountURL("/contacts/%d/conversations", contactID), nil, nil, false)
	if err != nil || resp.DryRun {
		return nil, err
	}
	var out struct {
		Payload []conversation `json:"payload"`
	}
	if err := decodeStrict(resp.Body, &out, "conversation list"); err != nil {
		return nil, err
	}
	var convs []conversation
	for _, conv := range out.Payload {
		if conv.InboxID == c.s.inboxID && conv.ID > 0 {
			convs = append(convs, conv)
		}
	}
	return convs, nil
}

// createConversation sends POST /conversations and returns the new
// conversation's id.
func (c *client) createConversation(ctx context.Context, body map[string]any, mergeBody bool) (recordID, error) {
	resp, err := c.do(ctx, http.MethodPost, c.s.accountURL("/conversations"), nil, body, mergeBody)
	if err != nil {
		return recordID{}, err
	}
	if resp.DryRun {
		return placeholderID("conversation_id"), nil
	}
	var out conversation
	if err := decodeStrict(resp.Body, &out, "conversation"); err != nil {
		return recordID{}, err
	}
	if out.ID <= 0 {
		return recordID{}, sdk.Permanent(errors.New("chatwoot created a conversation but returned no conversation id"))
	}
	return knownID(out.ID), nil
}

// createMessage sends POST /conversations/{id}/messages and returns the new
// message's id.
func (c *client) createMessage(ctx context.Context, conversationID recordID, body map[string]any, mergeBody bool) (recordID, error) {
	resp, err := c.do(ctx, http.MethodPost, c.s.accountURL("/conversations/%s/messages", conversationID), nil, body, mergeBody)
	if err != nil {
		return recordID{}, err
	}
	if resp.DryRun {
		return placeholderID("message_id"), nil
	}
	var out message
	if err := decodeStrict(resp.Body, &out, "message"); err != nil {
		return recordID{}, err
	}
	if out.ID <= 0 {
		return recordID{}, sdk.Permanent(errors.New("chatwoot created a message but returned no message id"))
	}
	return knownID(out.ID), nil
}
