package smsgateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// messagesPath is where messages are sent, under base_url.
const messagesPath = "/messages"

// e164 is a phone number in E.164 form: a plus, then up to 15 digits.
const e164 = `^\+[1-9][0-9]{6,14}$`

func (p *Provider) sendSMSAction() sdk.Action {
	return sdk.Action{
		Name: "send_sms",
		Description: "Sends a text message: POST {base_url}" + messagesPath + " with {to, text}. " +
			"The step's idempotency key travels as the Idempotency-Key header, so a retry never texts twice. " +
			"override.body may set any field of the request.",
		Input: sdk.Fields(
			sdk.String("to", "Recipient in E.164 form, such as +14155550123.").
				AsRequired().Matching(e164).WithExample("+14155550123"),
			sdk.String("text", "Message text; the gateway splits long texts into parts.").
				AsRequired(),
		),
		Output: sdk.Fields(
			sdk.String("id", "The gateway's message id; delivery reports carry it as message_id."),
			sdk.String("status", "Status of the message: queued, sent or delivered."),
		),
		Run: p.sendSMS,
	}
}

// message is both the send_sms input and the request body.
type message struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// sent is the gateway's answer and the action's output.
type sent struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (p *Provider) sendSMS(ctx context.Context, call *sdk.Call) (any, error) {
	var in message
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, sdk.InvalidInput("text", "must not be empty")
	}
	resp, err := p.http.Do(ctx, call, sdk.Request{
		Method: http.MethodPost,
		URL:    strings.TrimRight(call.Config.String("base_url"), "/") + messagesPath,
		Header: http.Header{
			"Authorization":   {"Bearer " + call.Config.String("token")},
			"Idempotency-Key": {call.IdempotencyKey},
		},
		Body:      in,
		MergeBody: true,
	})
	if err != nil || resp.DryRun {
		return nil, err
	}
	var out sent
	if err := resp.JSON(&out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		// A 2xx whose body reports no message is a failure the gateway
		// will repeat: permanent.
		return nil, sdk.Permanent(errors.New("the gateway accepted the request but returned no message id"))
	}
	return out, nil
}
