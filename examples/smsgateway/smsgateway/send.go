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
			// WithLength is declarative: `herald validate` checks it.
			// Checked is Go, run by the plugin before each send.
			sdk.String("text", "Message text; the gateway splits long texts into parts.").
				AsRequired().WithLength(1, maxText).Checked(notBlank),
			// A sender is a name or a numeric short code: one field that
			// takes a string or an integer.
			sdk.StringOrInteger("sender", "Sender shown to the recipient: an alphanumeric sender id such as \"ACME\", or a numeric short code such as 40404.").
				Matching(`^[A-Za-z0-9 ]{1,11}$`).AtLeast(1).AtMost(99999999),
		),
		Output: sdk.Fields(
			sdk.String("id", "The gateway's message id; delivery reports carry it as message_id."),
			sdk.String("status", "Status of the message: queued, sent or delivered."),
		),
		Run: p.sendSMS,
	}
}

// maxText is the longest text the gateway takes: ten parts of 160.
const maxText = 1600

// notBlank rejects a text of spaces only, which the length bound lets
// through.
func notBlank(v any) error {
	if s, _ := v.(string); strings.TrimSpace(s) == "" {
		return errors.New("must not be blank")
	}
	return nil
}

// message is both the send_sms input and the request body.
type message struct {
	To     string `json:"to"`
	Text   string `json:"text"`
	Sender any    `json:"sender,omitempty"`
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
