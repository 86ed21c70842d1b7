package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// recipientFields are the two ways of addressing a chat; exactly one is set.
func recipientFields() []sdk.Field {
	return []sdk.Field{
		sdk.String("phone", "Recipient's phone number with country code, digits only (no +, spaces or dashes). Exactly one of phone and chat_id.").
			Matching(phonePattern).WithExample("17472822486"),
		sdk.String("chat_id", "Chat id: NNN@c.us for a private chat, NNN-NNN@g.us for a group. Exactly one of phone and chat_id.").
			Matching(chatIDPattern).WithExample("17680561234-1479621234@g.us"),
	}
}

var recipientGroup = [][]string{{"phone", "chat_id"}}

var sendOutputSchema = sdk.Fields(
	sdk.Bool("sent", "Whether Chat API accepted the message; always true in an output, since a refusal is an error."),
	sdk.String("id", "The message id, such as true_17472822486@c.us_3EB0C431C26A1916603A; acks in webhooks refer to it."),
	sdk.String("message", "Chat API's status text, such as \"Sent to 17472822486@c.us\"."),
)

func (p *provider) sendMessageAction() sdk.Action {
	fields := append(recipientFields(),
		sdk.String("body", "Message text (UTF-8, emoji allowed).").AsRequired(),
		sdk.String("quoted_msg_id", "Id of a message to quote in the reply, such as false_17472822486@c.us_3EB0C431C26A1916603A."),
		sdk.Array("mentioned_phones", "Phone numbers to mention in a group message; the body should contain @<phone> for each.",
			sdk.String("", "").Matching(phonePattern)),
	)
	return sdk.Action{
		Name: "send_message",
		Description: "Sends a text message: POST {api_url}/instance{instance_id}/sendMessage. " +
			"override.body may set any /sendMessage field (phone, chatId, body, quotedMsgId, mentionedPhones, …)." + fmt.Sprintf(reconcileNote, "text", "texts"),
		Input:          sdk.Schema{Fields: fields, ExactlyOneOf: recipientGroup},
		Output:         sendOutputSchema,
		RecipientLimit: recipientKey,
		Delivery:       sendDelivery,
		Run:            p.sendMessage,
		Reconcile:      p.reconcileSend,
	}
}

func (p *provider) sendFileAction() sdk.Action {
	fields := append(recipientFields(),
		sdk.String("body", "The file: an http(s) URL Chat API downloads, or a data URI such as data:image/jpeg;base64,….").
			AsRequired().Matching(`^(https?://|data:)`),
		sdk.String("filename", "File name with extension, such as cover.jpg; WhatsApp uses it to choose how to show the file.").AsRequired(),
		sdk.String("caption", "Text shown under the file."),
	)
	return sdk.Action{
		Name: "send_file",
		Description: "Sends a file from a URL or data URI: POST {api_url}/instance{instance_id}/sendFile. " +
			"override.body may set any /sendFile field." + fmt.Sprintf(reconcileNote, "caption (a file of any type: Chat API lists its own copy of the file, not the URL it was sent)", "captions (or two files without one)"),
		Input:          sdk.Schema{Fields: fields, ExactlyOneOf: recipientGroup},
		Output:         sendOutputSchema,
		RecipientLimit: recipientKey,
		Delivery:       sendDelivery,
		Run:            p.sendFile,
		Reconcile:      p.reconcileSend,
	}
}

// recipientKey names a send's recipient for a provider block's
// recipient_rate_limit. Chat API publishes no rate limit, per instance or
// per chat, so none is declared by default (docs/providers.md).
var recipientKey = &sdk.RecipientLimit{Expr: "has(input.phone) ? input.phone : input.chat_id"}

// recipient is the addressing part of a send input.
type recipient struct {
	Phone  string `json:"phone"`
	ChatID string `json:"chat_id"`
}

type sendMessageInput struct {
	recipient
	Body            string   `json:"body"`
	QuotedMsgID     string   `json:"quoted_msg_id"`
	MentionedPhones []string `json:"mentioned_phones"`
}

type sendFileInput struct {
	recipient
	Body     string `json:"body"`
	Filename string `json:"filename"`
	Caption  string `json:"caption"`
}

// messageRequest is the /sendMessage body; absent fields are left out.
type messageRequest struct {
	Phone           string   `json:"phone,omitempty"`
	ChatID          string   `json:"chatId,omitempty"`
	Body            string   `json:"body"`
	QuotedMsgID     string   `json:"quotedMsgId,omitempty"`
	MentionedPhones []string `json:"mentionedPhones,omitempty"`
}

// fileRequest is the /sendFile body.
type fileRequest struct {
	Phone    string `json:"phone,omitempty"`
	ChatID   string `json:"chatId,omitempty"`
	Body     string `json:"body"`
	Filename string `json:"filename"`
	Caption  string `json:"caption,omitempty"`
}

// sendOutput is the output of send_message and send_file, and the shape of
// Chat API's answer to both.
type sendOutput struct {
	Sent    bool   `json:"sent"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (p *provider) sendMessage(ctx context.Context, call *sdk.Call) (any, error) {
	body, err := messageBody(call)
	if err != nil {
		return nil, err
	}
	return p.send(ctx, call, "sendMessage", body)
}

// messageBody returns the /sendMessage body of call's input, before the
// body override.
func messageBody(call *sdk.Call) (messageRequest, error) {
	var in sendMessageInput
	if err := call.Bind(&in); err != nil {
		return messageRequest{}, err
	}
	if strings.TrimSpace(in.Body) == "" {
		return messageRequest{}, sdk.InvalidInput("body", "must not be empty")
	}
	return messageRequest{
		Phone:           in.Phone,
		ChatID:          in.ChatID,
		Body:            in.Body,
		QuotedMsgID:     in.QuotedMsgID,
		MentionedPhones: in.MentionedPhones,
	}, nil
}

func (p *provider) sendFile(ctx context.Context, call *sdk.Call) (any, error) {
	body, err := fileBody(call)
	if err != nil {
		return nil, err
	}
	return p.send(ctx, call, "sendFile", body)
}

// fileBody returns the /sendFile body of call's input, before the body
// override.
func fileBody(call *sdk.Call) (fileRequest, error) {
	var in sendFileInput
	if err := call.Bind(&in); err != nil {
		return fileRequest{}, err
	}
	if strings.TrimSpace(in.Filename) == "" {
		return fileRequest{}, sdk.InvalidInput("filename", "must not be empty")
	}
	return fileRequest{
		Phone:    in.Phone,
		ChatID:   in.ChatID,
		Body:     in.Body,
		Filename: in.Filename,
		Caption:  in.Caption,
	}, nil
}

// send posts body to the instance method and reads Chat API's verdict: a
// 2xx answer that says the message was not sent is a permanent error
// carrying Chat API's reason.
func (p *provider) send(ctx context.Context, call *sdk.Call, method string, body any) (any, error) {
	target, err := instanceURL(call, method)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodPost, URL: target, Body: body, MergeBody: true})
	if err != nil || resp.DryRun {
		return nil, err
	}
	var out sendAnswer
	if err := out.decode(resp); err != nil {
		return nil, err
	}
	switch {
	case out.Sent == nil:
		return nil, failure(resp, errors.New("chat api answered without a sent flag"))
	case !*out.Sent:
		reason := out.Message
		if reason == "" {
			reason = "no reason given"
		}
		return nil, failure(resp, fmt.Errorf("chat api did not send the message: %s", reason))
	}
	return sendOutput{Sent: true, ID: out.ID, Message: out.Message}, nil
}
