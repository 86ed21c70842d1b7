package fake

import (
	"encoding/json"
	"net/http"
)

// ackStatuses maps Herald's delivery statuses onto Chat API's ack statuses.
var ackStatuses = map[string]string{
	"sent":      "sent",
	"delivered": "delivered",
	"read":      "viewed",
	// Chat API reports no failure as an ack; a failed plan stops at sent.
	"failed": "sent",
}

// AckWebhook renders the webhook Chat API posts when a sent message's
// delivery status changes: the envelope {"ack": [...], "instanceId"} of
// specs/chat-api/webhook_ack.json, for status in Herald's words (read is
// Chat API's "viewed"). Chat API does not sign its webhooks.
func AckWebhook(m Message, status string) ([]byte, http.Header) {
	body, _ := json.Marshal(map[string]any{
		"ack": []map[string]any{{
			"id":          m.ID,
			"queueNumber": 1,
			"chatId":      m.ChatID,
			"status":      ackStatuses[status],
		}},
		"instanceId": m.Instance,
	})
	return body, http.Header{"Content-Type": {"application/json"}}
}

// notifySent calls OnSent, when set, with a message the fake has sent.
func (f *Fake) notifySent(m Message) {
	if f.OnSent != nil {
		f.OnSent(m)
	}
}
