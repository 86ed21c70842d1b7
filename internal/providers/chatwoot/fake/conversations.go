package fake

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/heraldhq/herald/internal/sandbox"
)

// agentID is the id of the user the fake's token belongs to.
const agentID = 1

// statuses are the conversation statuses Chatwoot knows.
var statuses = []string{"open", "resolved", "pending", "snoozed"}

// createConversation serves POST /conversations. With inbox_id and
// contact_id the contact's session with source_id is found or opened (as
// ContactInboxBuilder does); otherwise the session is looked up by source_id
// alone. An optional message is created with the conversation.
func (f *Fake) createConversation(w http.ResponseWriter, r *http.Request, p params) {
	sourceID, _ := p.str("source_id")
	inbox, hasInbox, err1 := p.int("inbox_id")
	contactID, hasContact, err2 := p.int("contact_id")
	if err1 != nil || err2 != nil || (hasInbox && inbox != f.InboxID) {
		notFound(w)
		return
	}
	var ci *ContactInbox
	if hasInbox && hasContact {
		c := f.contactByID(contactID)
		if c == nil {
			notFound(w)
			return
		}
		if existing := f.contactInboxBySource(sourceID); sourceID != "" && existing != nil && existing.ContactID != c.ID {
			writeError(w, http.StatusUnprocessableEntity, "source_id should be unique")
			return
		}
		ci = f.findOrStoreContactInbox(c.ID, inbox, sourceID)
	} else if sourceID != "" {
		ci = f.contactInboxBySource(sourceID)
	}
	if ci == nil {
		notFound(w)
		return
	}
	status := "open"
	if s, ok := p.str("status"); ok && s != "" {
		if !slices.Contains(statuses, s) {
			writeError(w, http.StatusUnprocessableEntity, "'"+s+"' is not a valid status")
			return
		}
		status = s
	}
	var first map[string]any
	if m, ok := p["message"]; ok && m != nil {
		if first, ok = m.(map[string]any); !ok {
			writeError(w, http.StatusUnprocessableEntity, "message must be an object")
			return
		}
	}
	conv := f.storeConversation(ci, status)
	if n, ok, err := p.int("assignee_id"); ok && err == nil {
		conv.AssigneeID = &n
	}
	if n, ok, err := p.int("team_id"); ok && err == nil {
		conv.TeamID = &n
	}
	conv.CustomAttributes, _ = p.object("custom_attributes")
	if first != nil {
		content, _ := params(first).str("content")
		f.storeMessage(conv, Message{MessageType: "outgoing", Content: content})
	}
	sandbox.WriteJSON(w, http.StatusOK, f.renderConversation(conv))
}

// showConversation serves GET /conversations/{conversation_id}.
func (f *Fake) showConversation(w http.ResponseWriter, r *http.Request, p params) {
	conv := f.conversationByPath(r)
	if conv == nil {
		notFound(w)
		return
	}
	sandbox.WriteJSON(w, http.StatusOK, f.renderConversation(conv))
}

// toggleStatus serves POST /conversations/{conversation_id}/toggle_status:
// it sets status, or toggles between open and resolved without one.
func (f *Fake) toggleStatus(w http.ResponseWriter, r *http.Request, p params) {
	conv := f.conversationByPath(r)
	if conv == nil {
		notFound(w)
		return
	}
	if s, ok := p.str("status"); ok && s != "" {
		if !slices.Contains(statuses, s) {
			writeError(w, http.StatusUnprocessableEntity, "'"+s+"' is not a valid status")
			return
		}
		conv.Status = s
	} else if conv.Status == "open" {
		conv.Status = "resolved"
	} else {
		conv.Status = "open"
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"meta": map[string]any{},
		"payload": map[string]any{
			"success":         true,
			"conversation_id": conv.ID,
			"current_status":  conv.Status,
			"snoozed_until":   nil,
		},
	})
}

// The page sizes of GET /conversations/{conversation_id}/messages.
const (
	messagesPage      = 20
	messagesAfterPage = 100
)

// listMessages serves GET /conversations/{conversation_id}/messages: as
// Chatwoot does, the latest 20 messages, or with before=ID the 20 before
// that message, or with after=ID up to 100 after it, in ascending order, as
// push event data (which has no echo_id: Chatwoot does not keep it).
func (f *Fake) listMessages(w http.ResponseWriter, r *http.Request, p params) {
	conv := f.conversationByPath(r)
	if conv == nil {
		notFound(w)
		return
	}
	before, hasBefore, err := p.int("before")
	if err != nil {
		writeError(w, http.StatusBadRequest, "before must be a message id")
		return
	}
	after, hasAfter, err := p.int("after")
	if err != nil {
		writeError(w, http.StatusBadRequest, "after must be a message id")
		return
	}
	var msgs []*Message
	for _, m := range f.messages {
		if m.ConversationID == conv.ID && (!hasBefore || m.ID < before) && (!hasAfter || m.ID > after) {
			msgs = append(msgs, m)
		}
	}
	switch {
	case hasAfter && len(msgs) > messagesAfterPage:
		msgs = msgs[:messagesAfterPage]
	case !hasAfter && len(msgs) > messagesPage:
		msgs = msgs[len(msgs)-messagesPage:]
	}
	payload := []map[string]any{}
	for _, m := range msgs {
		payload = append(payload, f.renderMessagePush(m))
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"meta":    map[string]any{"contact": f.renderContact(f.contactByID(conv.ContactID), false), "labels": []string{}},
		"payload": payload,
	})
}

// createMessage serves POST /conversations/{conversation_id}/messages and
// answers with messages/create.json.jbuilder's shape.
func (f *Fake) createMessage(w http.ResponseWriter, r *http.Request, p params) {
	conv := f.conversationByPath(r)
	if conv == nil {
		notFound(w)
		return
	}
	m := Message{MessageType: "outgoing"}
	if t, ok := p.str("message_type"); ok && t != "" {
		if t != "outgoing" && t != "incoming" {
			writeError(w, http.StatusUnprocessableEntity, "'"+t+"' is not a valid message_type")
			return
		}
		m.MessageType = t
	}
	m.Content, _ = p.str("content")
	m.Private = p.bool("private")
	if v, ok := p["content_attributes"]; ok && v != nil {
		attrs, ok := v.(map[string]any)
		if !ok {
			writeError(w, http.StatusUnprocessableEntity, "content_attributes must be an object")
			return
		}
		m.ContentAttributes = attrs
	}
	m.EchoID, _ = p.str("echo_id")
	m.SourceID, _ = p.str("source_id")
	msg := f.storeMessage(conv, m)
	f.notifySent(msg)
	out := map[string]any{
		"id":                 msg.ID,
		"content":            msg.Content,
		"inbox_id":           conv.InboxID,
		"echo_id":            nullable(msg.EchoID),
		"conversation_id":    conv.ID,
		"message_type":       messageTypeCode(msg.MessageType),
		"content_type":       "text",
		"content_attributes": orEmpty(msg.ContentAttributes),
		"created_at":         msg.CreatedAt.Unix(),
		"private":            msg.Private,
		"sender":             f.sender(conv, msg),
	}
	sandbox.WriteJSON(w, http.StatusOK, out)
}

func (f *Fake) conversationByPath(r *http.Request) *Conversation {
	id, err := strconv.ParseInt(r.PathValue("conversation_id"), 10, 64)
	if err != nil {
		return nil
	}
	for _, c := range f.conversations {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (f *Fake) storeConversation(ci *ContactInbox, status string) *Conversation {
	now := f.now()
	conv := &Conversation{
		ID:             f.nextID(),
		UUID:           newUUID(),
		InboxID:        ci.InboxID,
		ContactID:      ci.ContactID,
		ContactInboxID: ci.ID,
		SourceID:       ci.SourceID,
		Status:         status,
		CreatedAt:      now,
		LastActivityAt: now,
	}
	f.conversations = append(f.conversations, conv)
	return conv
}

func (f *Fake) storeMessage(conv *Conversation, m Message) *Message {
	m.ID = f.nextID()
	m.ConversationID = conv.ID
	m.CreatedAt = f.now()
	msg := &m
	f.messages = append(f.messages, msg)
	conv.LastActivityAt = m.CreatedAt
	return msg
}

// messageTypeCode is message_type_before_type_cast: the enum's integer.
func messageTypeCode(t string) int {
	if t == "outgoing" {
		return 1
	}
	return 0
}

// sender is the message's sender as push_event_data: the contact for an
// incoming message, the token's agent for an outgoing one.
func (f *Fake) sender(conv *Conversation, m *Message) map[string]any {
	if m.MessageType == "incoming" {
		c := f.contactByID(conv.ContactID)
		out := f.renderContact(c, false)
		out["type"] = "contact"
		return out
	}
	return map[string]any{
		"id":                  agentID,
		"name":                "Sandbox Agent",
		"available_name":      "Sandbox Agent",
		"avatar_url":          "",
		"type":                "user",
		"availability_status": "online",
		"thumbnail":           "",
	}
}

// renderMessagePush is Message#push_event_data.
func (f *Fake) renderMessagePush(m *Message) map[string]any {
	conv := f.conversationByID(m.ConversationID)
	senderType := "User"
	senderID := int64(agentID)
	if m.MessageType == "incoming" {
		senderType, senderID = "Contact", conv.ContactID
	}
	return map[string]any{
		"id":                        m.ID,
		"content":                   m.Content,
		"account_id":                f.AccountID,
		"inbox_id":                  conv.InboxID,
		"conversation_id":           conv.ID,
		"message_type":              messageTypeCode(m.MessageType),
		"created_at":                m.CreatedAt.Unix(),
		"updated_at":                m.CreatedAt.Format("2006-01-02T15:04:05.000Z"),
		"private":                   m.Private,
		"status":                    "sent",
		"source_id":                 nullable(m.SourceID),
		"content_type":              "text",
		"content_attributes":        orEmpty(m.ContentAttributes),
		"sender_type":               senderType,
		"sender_id":                 senderID,
		"external_source_ids":       map[string]any{},
		"additional_attributes":     map[string]any{},
		"processed_message_content": m.Content,
		"sentiment":                 map[string]any{},
		"conversation": map[string]any{
			"assignee_id":      conv.AssigneeID,
			"unread_count":     0,
			"last_activity_at": conv.LastActivityAt.Unix(),
			"contact_inbox":    map[string]any{"source_id": conv.SourceID},
		},
		"sender": f.sender(conv, m),
	}
}

func (f *Fake) conversationByID(id int64) *Conversation {
	for _, c := range f.conversations {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// renderConversation is api/v1/conversations/partials/_conversation.json.jbuilder.
func (f *Fake) renderConversation(conv *Conversation) map[string]any {
	var last *Message
	for _, m := range f.messages {
		if m.ConversationID == conv.ID {
			last = m
		}
	}
	messages := []map[string]any{}
	var lastMessage any
	if last != nil {
		messages = append(messages, f.renderMessagePush(last))
		lastMessage = f.renderMessagePush(last)
	}
	meta := map[string]any{
		"sender":        f.renderContact(f.contactByID(conv.ContactID), false),
		"channel":       "Channel::Api",
		"hmac_verified": false,
	}
	return map[string]any{
		"meta":                      meta,
		"id":                        conv.ID,
		"messages":                  messages,
		"account_id":                f.AccountID,
		"uuid":                      conv.UUID,
		"additional_attributes":     map[string]any{},
		"agent_last_seen_at":        0,
		"assignee_last_seen_at":     0,
		"can_reply":                 true,
		"contact_last_seen_at":      0,
		"custom_attributes":         orEmpty(conv.CustomAttributes),
		"inbox_id":                  conv.InboxID,
		"labels":                    []string{},
		"muted":                     false,
		"snoozed_until":             nil,
		"status":                    conv.Status,
		"created_at":                conv.CreatedAt.Unix(),
		"updated_at":                float64(conv.LastActivityAt.UnixMilli()) / 1000,
		"timestamp":                 conv.LastActivityAt.Unix(),
		"first_reply_created_at":    0,
		"unread_count":              0,
		"last_non_activity_message": lastMessage,
		"last_activity_at":          conv.LastActivityAt.Unix(),
		"priority":                  nil,
		"waiting_since":             0,
		"sla_policy_id":             nil,
	}
}
