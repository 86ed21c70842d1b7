package chatapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/sdk"
)

// The events a Chat API webhook produces, one per element of the envelope's
// arrays.
const (
	EventMessage    = "chatapi.message"
	EventAck        = "chatapi.ack"
	EventChatUpdate = "chatapi.chat_update"
)

// instanceIDField is added to each event's data from the envelope, so a
// workflow can tell instances apart.
const instanceIDField = "instanceId"

var events = []sdk.EventSpec{
	{
		Name:        EventMessage,
		Description: "A message the instance received or sent (one element of the webhook's messages array). Its id is the event id.",
		Data: &sdk.Schema{
			AdditionalFields: true,
			Fields: []sdk.Field{
				sdk.String("id", "Message id, such as false_17472822486@c.us_AF3E…; false_ for incoming, true_ for outgoing."),
				sdk.String("body", "Text of the message, or the URL of its file."),
				sdk.String("type", "Message type: chat, image, document, ptt, location, …"),
				sdk.Bool("fromMe", "Whether the instance's own account sent it."),
				sdk.String("author", "Chat id of the sender."),
				sdk.String("chatId", "Chat id of the conversation."),
				sdk.String("senderName", "Display name of the sender."),
				sdk.String("chatName", "Name of the chat."),
				sdk.Integer("time", "When the message was sent, in Unix seconds."),
				sdk.Integer("messageNumber", "Sequence number of the message in the instance."),
				sdk.String("quotedMsgId", "Id of the message it quotes, if any."),
				sdk.Any(instanceIDField, "Id of the instance the webhook came from."),
			},
		},
	},
	{
		Name:        EventAck,
		Description: "A delivery status change of a message the instance sent (one element of the webhook's ack array). The event id is the message id and the status, so sent, delivered and viewed each arrive once.",
		Data: &sdk.Schema{
			AdditionalFields: true,
			Fields: []sdk.Field{
				sdk.String("id", "Id of the message the ack is about, as send_message returned it."),
				sdk.String("chatId", "Chat id of the conversation."),
				sdk.String("status", "New status: sent, delivered or viewed."),
				sdk.Integer("queueNumber", "Position of the message in the instance's queue."),
				sdk.Any(instanceIDField, "Id of the instance the webhook came from."),
			},
		},
	},
	{
		Name:        EventChatUpdate,
		Description: "A chat was created or changed (one element of the webhook's chatUpdate array). It has no event id.",
		Data: &sdk.Schema{
			AdditionalFields: true,
			Fields: []sdk.Field{
				sdk.Map("old", "The chat before the change: id, name, image, metadata; null for a new chat."),
				sdk.Map("new", "The chat after the change: id, name, image, metadata."),
				sdk.Any(instanceIDField, "Id of the instance the webhook came from."),
			},
		},
	},
}

// envelope is the body of every Chat API webhook. One delivery usually
// carries one of the arrays.
type envelope struct {
	InstanceID json.RawMessage   `json:"instanceId"`
	Messages   []json.RawMessage `json:"messages"`
	Ack        []json.RawMessage `json:"ack"`
	ChatUpdate []json.RawMessage `json:"chatUpdate"`
}

// HandleWebhook implements sdk.WebhookHandler. Chat API does not sign its
// webhooks; when the instance config sets webhook_token, the webhook URL's
// token query parameter must carry it.
func (p *provider) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if want := req.Config.String("webhook_token"); want != "" {
		if !equalSecret(req.Query.Get("token"), want) {
			return nil, sdk.Unverified("the webhook URL's token query parameter does not match the instance's webhook_token")
		}
	}
	if len(bytes.TrimSpace(req.Body)) == 0 {
		return nil, sdk.Permanent(errors.New("chat api webhook: body is empty"))
	}
	var env envelope
	if err := json.Unmarshal(req.Body, &env); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("chat api webhook: body is not a JSON envelope: %v", err))
	}
	var out []sdk.Event
	for _, kind := range []struct {
		event    string
		key      string
		elements []json.RawMessage
	}{
		{EventMessage, "messages", env.Messages},
		{EventAck, "ack", env.Ack},
		{EventChatUpdate, "chatUpdate", env.ChatUpdate},
	} {
		for i, raw := range kind.elements {
			ev, err := newEvent(kind.event, raw, env.InstanceID)
			if err != nil {
				return nil, sdk.Permanent(fmt.Errorf("chat api webhook: %s[%d]: %w", kind.key, i, err))
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// newEvent makes the event of one array element: the element as data, with
// the envelope's instanceId added when the element has none.
func newEvent(typ string, raw, instanceID json.RawMessage) (sdk.Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return sdk.Event{}, errors.New("element is not a JSON object")
	}
	data := json.RawMessage(raw)
	if _, ok := fields[instanceIDField]; !ok && len(instanceID) > 0 {
		fields[instanceIDField] = instanceID
		b, err := json.Marshal(fields)
		if err != nil {
			return sdk.Event{}, err
		}
		data = b
	}
	ev := sdk.Event{Type: typ, ID: eventID(typ, fields), Data: data}
	if typ == EventAck {
		ev.Receipt = ackReceipt(fields)
	}
	return ev, nil
}

// eventID is the de-duplication key of an event: the message id for a
// message, the message id and status for an ack (a message is acked once per
// status), none for a chat update.
func eventID(typ string, fields map[string]json.RawMessage) string {
	var id string
	if typ == EventChatUpdate || json.Unmarshal(fields["id"], &id) != nil || id == "" {
		return ""
	}
	if typ == EventAck {
		var status string
		if json.Unmarshal(fields["status"], &status) == nil && status != "" {
			return id + ":" + status
		}
	}
	return id
}

// equalSecret compares a presented secret with the expected one in time
// that depends on neither's content or length.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
