package fake

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/sandbox"
)

// e164 is the phone number format Chatwoot's Contact model validates.
var e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// email is a loose version of the email check Chatwoot's Contact model
// applies (Devise.email_regexp).
var email = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)

// searchContacts serves GET /contacts/search?q=: contacts whose name, email
// or phone number contain q (case-insensitively) or whose identifier
// contains it (case-sensitively), or whose id is q, 15 a page.
func (f *Fake) searchContacts(w http.ResponseWriter, r *http.Request, p params) {
	q, _ := p.str("q")
	q = strings.TrimSpace(q)
	if q == "" {
		writeError(w, http.StatusUnprocessableEntity, "Specify search string with parameter q")
		return
	}
	page, given, err := p.int("page")
	if err != nil || !given || page < 1 {
		page = 1
	}
	lower := strings.ToLower(q)
	var matches []*Contact
	for _, c := range f.contacts {
		if strings.Contains(strings.ToLower(c.Name), lower) ||
			strings.Contains(strings.ToLower(c.Email), lower) ||
			strings.Contains(strings.ToLower(c.PhoneNumber), lower) ||
			strings.Contains(c.Identifier, q) ||
			strconv.FormatInt(c.ID, 10) == q {
			matches = append(matches, c)
		}
	}
	start := min(int(page-1)*pageSize, len(matches))
	end := min(start+pageSize, len(matches))
	payload := make([]map[string]any, 0, end-start)
	for _, c := range matches[start:end] {
		payload = append(payload, f.renderContact(c, true))
	}
	// current_page is params[:page] as given (a string) or the integer 1.
	var currentPage any = 1
	if s, ok := p.str("page"); ok && s != "" {
		currentPage = s
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"meta":    map[string]any{"count": len(payload), "current_page": currentPage, "has_more": end < len(matches)},
		"payload": payload,
	})
}

// createContact serves POST /contacts: it validates the contact as
// Chatwoot's model does, stores it, opens a session in inbox_id when given,
// and answers with contacts/create.json.jbuilder's shape, which is not the
// extended_contact the spec documents.
func (f *Fake) createContact(w http.ResponseWriter, r *http.Request, p params) {
	c := Contact{}
	c.Name, _ = p.str("name")
	c.Email, _ = p.str("email")
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	c.PhoneNumber, _ = p.str("phone_number")
	c.Identifier, _ = p.str("identifier")
	c.CustomAttributes, _ = p.object("custom_attributes")
	c.AdditionalAttributes, _ = p.object("additional_attributes")

	var messages, attributes []string
	invalid := func(attr, msg string) {
		messages = append(messages, msg)
		if !slices.Contains(attributes, attr) {
			attributes = append(attributes, attr)
		}
	}
	if c.Email != "" && !email.MatchString(c.Email) {
		invalid("email", "Email Invalid email")
	}
	if c.PhoneNumber != "" && !e164.MatchString(c.PhoneNumber) {
		invalid("phone_number", "Phone number should be in e164 format")
	}
	for _, other := range f.contacts {
		if c.Email != "" && other.Email == c.Email {
			invalid("email", "Email has already been taken")
		}
		if c.PhoneNumber != "" && other.PhoneNumber == c.PhoneNumber {
			invalid("phone_number", "Phone number has already been taken")
		}
		if c.Identifier != "" && other.Identifier == c.Identifier {
			invalid("identifier", "Identifier has already been taken")
		}
	}
	if len(messages) > 0 {
		recordInvalid(w, messages, attributes)
		return
	}
	inbox, hasInbox, err := p.int("inbox_id")
	if err != nil || (hasInbox && inbox != f.InboxID) {
		notFound(w)
		return
	}
	ct := f.storeContact(c)
	var ci *ContactInbox
	if hasInbox {
		sourceID, _ := p.str("source_id")
		ci = f.storeContactInbox(ct.ID, inbox, sourceID)
	}
	contactInbox := map[string]any{"inbox": nil, "source_id": nil}
	if ci != nil {
		contactInbox = map[string]any{"inbox": f.inboxModel(), "source_id": ci.SourceID}
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"payload": map[string]any{
		"contact":       f.renderContact(ct, true),
		"contact_inbox": contactInbox,
	}})
}

// showContact serves GET /contacts/{id}: {"payload": contact}.
func (f *Fake) showContact(w http.ResponseWriter, r *http.Request, p params) {
	c := f.contactByPath(r)
	if c == nil {
		notFound(w)
		return
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"payload": f.renderContact(c, true)})
}

// createContactInbox serves POST /contacts/{id}/contact_inboxes: a new
// session for the contact in inbox_id, answered as the contact_inbox partial.
func (f *Fake) createContactInbox(w http.ResponseWriter, r *http.Request, p params) {
	c := f.contactByPath(r)
	if c == nil {
		notFound(w)
		return
	}
	inbox, ok, err := p.int("inbox_id")
	if err != nil || !ok || inbox != f.InboxID {
		notFound(w)
		return
	}
	sourceID, _ := p.str("source_id")
	if sourceID != "" {
		if existing := f.contactInboxBySource(sourceID); existing != nil && existing.ContactID != c.ID {
			writeError(w, http.StatusUnprocessableEntity, "source_id should be unique")
			return
		}
	}
	ci := f.findOrStoreContactInbox(c.ID, inbox, sourceID)
	sandbox.WriteJSON(w, http.StatusOK, f.renderContactInbox(ci))
}

// contactConversations serves GET /contacts/{id}/conversations: the
// contact's conversations, most recent activity first.
func (f *Fake) contactConversations(w http.ResponseWriter, r *http.Request, p params) {
	c := f.contactByPath(r)
	if c == nil {
		notFound(w)
		return
	}
	var convs []*Conversation
	for _, conv := range f.conversations {
		if conv.ContactID == c.ID {
			convs = append(convs, conv)
		}
	}
	slices.SortStableFunc(convs, func(a, b *Conversation) int {
		if c := b.LastActivityAt.Compare(a.LastActivityAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	payload := make([]map[string]any, 0, len(convs))
	for _, conv := range convs {
		payload = append(payload, f.renderConversation(conv))
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"payload": payload})
}

func (f *Fake) contactByPath(r *http.Request) *Contact {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil
	}
	return f.contactByID(id)
}

func (f *Fake) contactByID(id int64) *Contact {
	for _, c := range f.contacts {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (f *Fake) contactInboxBySource(sourceID string) *ContactInbox {
	for _, ci := range f.contactInboxes {
		if ci.SourceID == sourceID {
			return ci
		}
	}
	return nil
}

func (f *Fake) storeContact(c Contact) *Contact {
	c.ID = f.nextID()
	c.CreatedAt = f.now()
	ct := &c
	f.contacts = append(f.contacts, ct)
	return ct
}

// storeContactInbox opens a session; an empty sourceID gets a UUID, as
// Chatwoot generates for API inboxes.
func (f *Fake) storeContactInbox(contactID, inboxID int64, sourceID string) *ContactInbox {
	if sourceID == "" {
		sourceID = newUUID()
	}
	ci := &ContactInbox{ID: f.nextID(), ContactID: contactID, InboxID: inboxID, SourceID: sourceID, CreatedAt: f.now()}
	f.contactInboxes = append(f.contactInboxes, ci)
	return ci
}

// findOrStoreContactInbox is ContactInboxBuilder: the contact's session in
// the inbox with sourceID if it exists, else a new one.
func (f *Fake) findOrStoreContactInbox(contactID, inboxID int64, sourceID string) *ContactInbox {
	if sourceID != "" {
		for _, ci := range f.contactInboxes {
			if ci.ContactID == contactID && ci.InboxID == inboxID && ci.SourceID == sourceID {
				return ci
			}
		}
	}
	return f.storeContactInbox(contactID, inboxID, sourceID)
}

// renderContact is api/v1/models/_contact.json.jbuilder.
func (f *Fake) renderContact(c *Contact, withContactInboxes bool) map[string]any {
	out := map[string]any{
		"additional_attributes": orEmpty(c.AdditionalAttributes),
		"availability_status":   "offline",
		"email":                 nullable(c.Email),
		"id":                    c.ID,
		"name":                  c.Name,
		"phone_number":          nullable(c.PhoneNumber),
		"blocked":               false,
		"identifier":            nullable(c.Identifier),
		"thumbnail":             "",
		"custom_attributes":     orEmpty(c.CustomAttributes),
		"created_at":            c.CreatedAt.Unix(),
	}
	var lastActivity int64
	for _, conv := range f.conversations {
		if conv.ContactID == c.ID && conv.LastActivityAt.Unix() > lastActivity {
			lastActivity = conv.LastActivityAt.Unix()
		}
	}
	if lastActivity > 0 {
		out["last_activity_at"] = lastActivity
	}
	if withContactInboxes {
		inboxes := []map[string]any{}
		for _, ci := range f.contactInboxes {
			if ci.ContactID == c.ID {
				inboxes = append(inboxes, f.renderContactInbox(ci))
			}
		}
		out["contact_inboxes"] = inboxes
	}
	return out
}

// renderContactInbox is api/v1/models/_contact_inbox.json.jbuilder.
func (f *Fake) renderContactInbox(ci *ContactInbox) map[string]any {
	return map[string]any{"source_id": ci.SourceID, "inbox": f.renderInbox()}
}

// renderInbox is the inbox as the contact_inbox partial renders it (the
// slim inbox partial) for an API channel inbox. Its provider is null:
// Channel::Api has none.
func (f *Fake) renderInbox() map[string]any {
	return map[string]any{
		"id":           f.InboxID,
		"avatar_url":   "",
		"channel_id":   f.InboxID,
		"name":         f.InboxName,
		"channel_type": "Channel::Api",
		"provider":     nil,
	}
}

// inboxModel is the Inbox record as contacts/create.json.jbuilder renders it
// (the model's attributes, not the inbox partial).
func (f *Fake) inboxModel() map[string]any {
	return map[string]any{
		"id":                            f.InboxID,
		"channel_id":                    f.InboxID,
		"account_id":                    f.AccountID,
		"name":                          f.InboxName,
		"created_at":                    "2026-01-01T00:00:00.000Z",
		"updated_at":                    "2026-01-01T00:00:00.000Z",
		"enable_auto_assignment":        true,
		"greeting_enabled":              false,
		"greeting_message":              nil,
		"email_address":                 nil,
		"enable_email_collect":          true,
		"csat_survey_enabled":           false,
		"allow_messages_after_resolved": true,
		"auto_assignment_config":        map[string]any{},
		"lock_to_single_conversation":   false,
		"portal_id":                     nil,
		"sender_name_type":              "friendly",
		"business_name":                 nil,
		"channel_type":                  "Channel::Api",
	}
}

// nullable renders "" as null, as Chatwoot's nil attributes are.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
