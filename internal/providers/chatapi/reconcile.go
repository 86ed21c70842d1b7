package chatapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Chat API takes no idempotency key, but it lists the instance's messages
// (GET /messages). When a send's answer is lost, the lookup below reads the
// chat's last messages and looks for the send among them: an outgoing
// message (fromMe) in the same chat, with the same text (send_message) or a
// file with the same caption (send_file), timestamped at or after the
// attempt started.

// reconcileNote is appended to the descriptions of the sending actions.
const reconcileNote = " Chat API takes no idempotency key. In doubt (the answer was lost after the request was sent, or the host died mid-call), " +
	"Herald reconciles through GET {api_url}/instance{instance_id}/messages?chatId=…&last=true: an outgoing message (fromMe) in the same chat " +
	"with the same %s, timestamped at or after the attempt's start truncated to the second (Chat API keeps whole seconds), is the send, and is not sent again. " +
	"Limits: two identical %s to one chat within that window count as one, so the second is taken as sent; only the chat's last 100 messages are searched; " +
	"the gateway's clock and Herald's must agree; an instance that lists no message at all is asked again, then the run needs attention."

// lookup is what identifies a send in the message list.
type lookup struct {
	ChatID string
	// File is set for send_file: the message is a file (any type but
	// "chat") and Caption is compared, since Chat API lists its own copy of
	// the file, not the URL it was sent.
	File    bool
	Body    string
	Caption string
}

// listedMessage is one message of GET /messages.
type listedMessage struct {
	ID      string `json:"id"`
	Body    string `json:"body"`
	Type    string `json:"type"`
	FromMe  bool   `json:"fromMe"`
	Time    int64  `json:"time"`
	ChatID  string `json:"chatId"`
	Caption any    `json:"caption"`
}

// messageList is the answer of GET /messages.
type messageList struct {
	Messages          *[]listedMessage `json:"messages"`
	LastMessageNumber int64            `json:"lastMessageNumber"`
}

// sendLookup returns what identifies call's send: the request body send
// would post (override included), read back as Chat API reads it.
func sendLookup(call *sdk.Call) (lookup, error) {
	var base any
	var err error
	file := call.Action == "send_file"
	if file {
		base, err = fileBody(call)
	} else {
		base, err = messageBody(call)
	}
	if err != nil {
		return lookup{}, err
	}
	data, err := json.Marshal(base)
	if err != nil {
		return lookup{}, sdk.Permanent(fmt.Errorf("encode request body: %w", err))
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return lookup{}, sdk.Permanent(fmt.Errorf("decode request body: %w", err))
	}
	if len(call.BodyOverride) > 0 {
		body = sdk.MergeBody(body, call.BodyOverride)
	}
	l := lookup{File: file}
	l.Body, _ = body["body"].(string)
	l.Caption, _ = body["caption"].(string)
	// Chat API sends to chatId when it is given, else to phone@c.us.
	if id, _ := body["chatId"].(string); id != "" {
		l.ChatID = id
	} else {
		switch phone := body["phone"].(type) {
		case string:
			l.ChatID = phone + "@c.us"
		case float64:
			l.ChatID = fmt.Sprintf("%.0f@c.us", phone)
		}
	}
	if l.ChatID == "@c.us" || l.ChatID == "" {
		return lookup{}, sdk.Permanent(fmt.Errorf("%s: the request names no chat to look up", call.Action))
	}
	return l, nil
}

// matches reports whether m is the send l describes, made at or after
// since. Chat API's time is whole seconds: a message sent in the second the
// attempt started has a time before since, so since is truncated to its
// second before comparing.
func (l lookup) matches(m listedMessage, since time.Time) bool {
	if !m.FromMe || m.ChatID != l.ChatID || m.Time < since.Unix() {
		return false
	}
	if !l.File {
		return m.Type == "chat" && m.Body == l.Body
	}
	caption, _ := m.Caption.(string)
	return m.Type != "chat" && caption == l.Caption
}

// findSent reads a GET /messages answer for l's send since since. An answer
// that lists no message at all from an instance that reports no message
// number either tells nothing (an instance whose history is not loaded):
// unknown. Otherwise the earliest match is the send, and no match means it
// did not go out.
func findSent(list messageList, l lookup, since time.Time) (sdk.ReconcileStatus, listedMessage) {
	if list.Messages == nil || (len(*list.Messages) == 0 && list.LastMessageNumber == 0) {
		return sdk.ReconcileUnknown, listedMessage{}
	}
	for _, m := range *list.Messages {
		if l.matches(m, since) {
			return sdk.ReconcileFound, m
		}
	}
	return sdk.ReconcileNotFound, listedMessage{}
}

// reconcileSend is the reconcile handler of send_message and send_file: it
// asks Chat API whether call's send went out since since. It sends nothing
// but the GET. An error (bad config or input) means the lookup cannot be
// made at all.
func (p *provider) reconcileSend(ctx context.Context, call *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
	l, err := sendLookup(call)
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	endpoint, query, err := instanceEndpoint(call, "messages")
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	query.Set("chatId", l.ChatID)
	query.Set("last", "true")
	resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodGet, URL: endpoint, Query: query})
	if err != nil {
		return sdk.Reconciliation{Status: sdk.ReconcileUnknown, Detail: "GET messages: " + sdk.AsError(err).Message}, nil
	}
	var list messageList
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return sdk.Reconciliation{Status: sdk.ReconcileUnknown, Detail: "GET messages answered something other than a message list"}, nil
	}
	status, m := findSent(list, l, since)
	switch status {
	case sdk.ReconcileFound:
		return sdk.Reconciliation{
			Status: status,
			Output: sendOutput{Sent: true, ID: m.ID, Message: "Sent to " + l.ChatID},
			Detail: fmt.Sprintf("message %s in %s at %s", m.ID, l.ChatID, time.Unix(m.Time, 0).UTC().Format(time.RFC3339)),
		}, nil
	case sdk.ReconcileNotFound:
		return sdk.Reconciliation{Status: status, Detail: fmt.Sprintf("no outgoing message like it among the last %d of %s since %s",
			len(*list.Messages), l.ChatID, since.UTC().Truncate(time.Second).Format(time.RFC3339))}, nil
	default:
		return sdk.Reconciliation{Status: status, Detail: "GET messages listed no message and no message number"}, nil
	}
}
