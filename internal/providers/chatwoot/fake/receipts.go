package fake

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// SentMessage is an outgoing message the fake created, as its
// message_updated webhooks describe it.
type SentMessage struct {
	ID int64
	// webhook is Message#webhook_data without the status, and push the
	// message's push_event_data, taken when the message was created.
	webhook map[string]any
	push    map[string]any
}

// MessageUpdatedWebhook renders the message_updated webhook Chatwoot posts
// when the channel reports a new status of m (sent, delivered, read or
// failed), signed as Chatwoot v4.12+ signs: X-Chatwoot-Signature over
// X-Chatwoot-Timestamp and the body with secret, and a fresh
// X-Chatwoot-Delivery id. Like Message#webhook_data (v4.14) the payload
// carries the status in the conversation's entry for the message, not at
// its top level.
func MessageUpdatedWebhook(m SentMessage, status, secret string, now time.Time) ([]byte, http.Header) {
	push := maps.Clone(m.push)
	push["status"] = status
	payload := maps.Clone(m.webhook)
	conv := maps.Clone(payload["conversation"].(map[string]any))
	conv["messages"] = []any{push}
	payload["conversation"] = conv
	payload["event"] = "message_updated"
	body, _ := json.Marshal(payload)
	ts := now.Unix()
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set("X-Chatwoot-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-Chatwoot-Delivery", newUUID())
	if secret != "" {
		h.Set("X-Chatwoot-Signature", Sign(secret, ts, body))
	}
	return body, h
}

// notifySent calls OnSent, when set, with an outgoing message just created.
// The fake's lock is held: OnSent must not call the fake.
func (f *Fake) notifySent(m *Message) {
	if f.OnSent == nil || m.MessageType != "outgoing" || m.Private {
		return
	}
	conv := f.conversationByID(m.ConversationID)
	webhook := map[string]any{
		"account":               map[string]any{"id": f.AccountID, "name": f.AccountName},
		"additional_attributes": map[string]any{},
		"content_attributes":    orEmpty(m.ContentAttributes),
		"content_type":          "text",
		"content":               m.Content,
		"conversation":          map[string]any{"id": conv.ID, "inbox_id": conv.InboxID, "status": conv.Status},
		"created_at":            m.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"id":                    m.ID,
		"inbox":                 map[string]any{"id": f.InboxID, "name": f.InboxName},
		"message_type":          m.MessageType,
		"private":               m.Private,
		"sender":                map[string]any{"id": agentID, "name": "Sandbox Agent", "type": "user"},
		"source_id":             nullable(m.SourceID),
	}
	f.OnSent(SentMessage{ID: m.ID, webhook: webhook, push: f.renderMessagePush(m)})
}
