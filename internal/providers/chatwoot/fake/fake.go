// Package fake is an in-memory Chatwoot for tests and `herald sandbox`: it
// serves the Application API endpoints Herald's chatwoot provider uses, with
// Chatwoot's authentication check, the response shapes Chatwoot v4 actually
// renders (which differ from its OpenAPI spec in places; see the provider's
// testdata/SOURCE.json) and its error bodies.
//
// The fake owns only Chatwoot's side of the conversation. It knows nothing of
// Herald; recording requests and injecting faults is internal/sandbox's job:
//
//	sb.Mount("chatwoot", "/chatwoot", fake.New())
//
// It serves its routes relative to its root, so it works under a stripped
// prefix.
package fake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/sandbox"
)

// The defaults New gives a Fake, which ProviderConfig points an instance at.
const (
	DefaultToken         = "cw-sandbox-token-5c1e"
	DefaultAccountID     = 1
	DefaultAccountName   = "Herald Sandbox"
	DefaultInboxID       = 1
	DefaultInboxName     = "Herald API Inbox"
	DefaultWebhookSecret = "cw-sandbox-webhook-secret"
)

// maxBody bounds the request body the fake reads.
const maxBody = 1 << 20

// pageSize is Chatwoot's page size for contact search.
const pageSize = 15

// Fake is an in-memory Chatwoot account with one API channel inbox. Set its
// exported fields before serving requests.
type Fake struct {
	// Token is the api_access_token the fake accepts.
	Token string
	// AccountID and AccountName are the one account the token may use.
	AccountID   int64
	AccountName string
	// InboxID and InboxName are the account's API channel inbox.
	InboxID   int64
	InboxName string
	// Now is the fake's clock; nil uses time.Now.
	Now func() time.Time
	// OnSent, when set, is called with each outgoing message the fake
	// creates, with the fake's lock held; the sandbox posts its receipts
	// from it.
	OnSent func(SentMessage)

	mux *http.ServeMux

	mu             sync.Mutex
	contacts       []*Contact
	contactInboxes []*ContactInbox
	conversations  []*Conversation
	messages       []*Message
	lastID         int64
}

// Contact is a contact the fake stores.
type Contact struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	Identifier  string `json:"identifier,omitempty"`
	// CustomAttributes and AdditionalAttributes are free-form.
	CustomAttributes     map[string]any `json:"custom_attributes,omitempty"`
	AdditionalAttributes map[string]any `json:"additional_attributes,omitempty"`
	CreatedAt            time.Time      `json:"created_at"`
}

// ContactInbox is a contact's session in an inbox, named by its source_id.
type ContactInbox struct {
	ID        int64     `json:"id"`
	ContactID int64     `json:"contact_id"`
	InboxID   int64     `json:"inbox_id"`
	SourceID  string    `json:"source_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Conversation is a conversation the fake stores; its ID is the display id
// the API uses.
type Conversation struct {
	ID               int64          `json:"id"`
	UUID             string         `json:"uuid"`
	InboxID          int64          `json:"inbox_id"`
	ContactID        int64          `json:"contact_id"`
	ContactInboxID   int64          `json:"contact_inbox_id"`
	SourceID         string         `json:"source_id"`
	Status           string         `json:"status"`
	AssigneeID       *int64         `json:"assignee_id,omitempty"`
	TeamID           *int64         `json:"team_id,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	LastActivityAt   time.Time      `json:"last_activity_at"`
}

// Message is a message the fake stores.
type Message struct {
	ID             int64 `json:"id"`
	ConversationID int64 `json:"conversation_id"`
	// MessageType is "incoming" or "outgoing".
	MessageType       string         `json:"message_type"`
	Content           string         `json:"content"`
	Private           bool           `json:"private"`
	ContentAttributes map[string]any `json:"content_attributes,omitempty"`
	// EchoID is echoed in the create response and not persisted by real
	// Chatwoot; the fake keeps it so tests can see it arrived.
	EchoID    string    `json:"echo_id,omitempty"`
	SourceID  string    `json:"source_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// New returns an empty Fake with the default token, account and inbox.
func New() *Fake {
	f := &Fake{
		Token:       DefaultToken,
		AccountID:   DefaultAccountID,
		AccountName: DefaultAccountName,
		InboxID:     DefaultInboxID,
		InboxName:   DefaultInboxName,
	}
	m := http.NewServeMux()
	const acct = "/api/v1/accounts/{account_id}"
	m.Handle("GET "+acct+"/contacts/search", f.authed(f.searchContacts))
	m.Handle("POST "+acct+"/contacts", f.authed(f.createContact))
	m.Handle("GET "+acct+"/contacts/{id}", f.authed(f.showContact))
	m.Handle("POST "+acct+"/contacts/{id}/contact_inboxes", f.authed(f.createContactInbox))
	m.Handle("GET "+acct+"/contacts/{id}/conversations", f.authed(f.contactConversations))
	m.Handle("POST "+acct+"/conversations", f.authed(f.createConversation))
	m.Handle("GET "+acct+"/conversations/{conversation_id}", f.authed(f.showConversation))
	m.Handle("POST "+acct+"/conversations/{conversation_id}/toggle_status", f.authed(f.toggleStatus))
	m.Handle("GET "+acct+"/conversations/{conversation_id}/messages", f.authed(f.listMessages))
	m.Handle("POST "+acct+"/conversations/{conversation_id}/messages", f.authed(f.createMessage))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	f.mux = m
	return f
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
}

// params is a request's parameters: its JSON body merged over its query, as
// Rails merges them.
type params map[string]any

// authed checks the api_access_token header and the account the way
// Chatwoot does, then reads the request's parameters and calls h.
func (f *Fake) authed(h func(w http.ResponseWriter, r *http.Request, p params)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("api_access_token")
		switch {
		case token == "":
			// Devise's answer when no token is sent.
			sandbox.WriteJSON(w, http.StatusUnauthorized, map[string]any{"errors": []string{"You need to sign in or sign up before continuing."}})
			return
		case token != f.Token:
			writeError(w, http.StatusUnauthorized, "Invalid Access Token")
			return
		}
		account, err := strconv.ParseInt(r.PathValue("account_id"), 10, 64)
		if err != nil {
			notFound(w)
			return
		}
		if account != f.AccountID {
			writeError(w, http.StatusUnauthorized, "You are not authorized to access this account")
			return
		}
		p := params{}
		for k, v := range r.URL.Query() {
			p[k] = v[0]
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		if strings.TrimSpace(string(body)) != "" {
			var b map[string]any
			if err := json.Unmarshal(body, &b); err != nil {
				// Rails answers unparsable JSON with a 400.
				sandbox.WriteJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "error": "Bad Request"})
				return
			}
			for k, v := range b {
				p[k] = v
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		h(w, r, p)
	})
}

// writeError renders Chatwoot's usual error body, {"error": message}.
func writeError(w http.ResponseWriter, status int, message string) {
	sandbox.WriteJSON(w, status, map[string]any{"error": message})
}

// notFound is Chatwoot's answer for a record that does not exist.
func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "Resource could not be found")
}

// recordInvalid is Chatwoot's answer for a record that fails validation
// (ActiveRecord::RecordInvalid): the full messages and the attributes.
func recordInvalid(w http.ResponseWriter, messages, attributes []string) {
	sandbox.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":    strings.Join(messages, ", "),
		"attributes": attributes,
	})
}

// str returns the string parameter key, with Rails' leniency for numbers.
func (p params) str(key string) (string, bool) {
	switch v := p[key].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// int returns the integer parameter key, given as a number or a numeric
// string; ok is false when it is absent or blank, err set when malformed.
func (p params) int(key string) (n int64, ok bool, err error) {
	switch v := p[key].(type) {
	case nil:
		return 0, false, nil
	case float64:
		if v != float64(int64(v)) {
			return 0, true, fmt.Errorf("%s is not an integer", key)
		}
		return int64(v), true, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, true, fmt.Errorf("%s is not an integer", key)
		}
		return n, true, nil
	}
	return 0, true, fmt.Errorf("%s is not an integer", key)
}

// object returns the object parameter key.
func (p params) object(key string) (map[string]any, bool) {
	m, ok := p[key].(map[string]any)
	return m, ok
}

func (p params) bool(key string) bool {
	switch v := p[key].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	}
	return false
}

func (f *Fake) nextID() int64 {
	f.lastID++
	return f.lastID
}

// newUUID returns a random version 4 UUID, as Chatwoot generates source ids
// for API inboxes.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomToken returns a pubsub-token-like random string.
func randomToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [24]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// Contacts returns a copy of the stored contacts, oldest first.
func (f *Fake) Contacts() []Contact {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Contact, len(f.contacts))
	for i, c := range f.contacts {
		out[i] = *c
	}
	return out
}

// ContactInboxes returns a copy of the stored contact inboxes, oldest first.
func (f *Fake) ContactInboxes() []ContactInbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ContactInbox, len(f.contactInboxes))
	for i, c := range f.contactInboxes {
		out[i] = *c
	}
	return out
}

// Conversations returns a copy of the stored conversations, oldest first.
func (f *Fake) Conversations() []Conversation {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Conversation, len(f.conversations))
	for i, c := range f.conversations {
		out[i] = *c
	}
	return out
}

// Messages returns a copy of the stored messages, oldest first.
func (f *Fake) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Message, len(f.messages))
	for i, m := range f.messages {
		out[i] = *m
	}
	return out
}

// AddContact stores a contact with a session in the fake's inbox, as POST
// /contacts with inbox_id does, and returns it with its source_id. It skips
// the uniqueness checks: it is for seeding tests and demos.
func (f *Fake) AddContact(c Contact) (Contact, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ct := f.storeContact(c)
	ci := f.storeContactInbox(ct.ID, f.InboxID, "")
	return *ct, ci.SourceID
}

// AddConversation opens a conversation for the session named sourceID in the
// fake's inbox and returns it.
func (f *Fake) AddConversation(sourceID string) (Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ci := f.contactInboxBySource(sourceID)
	if ci == nil {
		return Conversation{}, fmt.Errorf("no contact inbox has source_id %q", sourceID)
	}
	return *f.storeConversation(ci, "open"), nil
}

// Reset forgets every contact, conversation and message.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contacts, f.contactInboxes, f.conversations, f.messages = nil, nil, nil, nil
}

// DeleteContact removes the contact with id and its sessions, as deleting
// it in Chatwoot does, and reports whether it existed. Its conversations and
// messages stay.
func (f *Fake) DeleteContact(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := false
	contacts := f.contacts[:0]
	for _, c := range f.contacts {
		if c.ID == id {
			found = true
			continue
		}
		contacts = append(contacts, c)
	}
	f.contacts = contacts
	inboxes := f.contactInboxes[:0]
	for _, ci := range f.contactInboxes {
		if ci.ContactID != id {
			inboxes = append(inboxes, ci)
		}
	}
	f.contactInboxes = inboxes
	return found
}
