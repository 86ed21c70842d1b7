package smsgateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// EventDelivered is the event a delivery report of a delivered message
// becomes.
const EventDelivered = "smsgateway.delivered"

// SignatureHeader carries a webhook's signature when the instance has a
// webhook_secret: "sha256=" + hex(HMAC-SHA256(webhook_secret, body)).
const SignatureHeader = "X-Signature"

var deliveredEvent = sdk.EventSpec{
	Name:        EventDelivered,
	Description: "The gateway delivered a message to the recipient's phone. The event id is the message id, so a report sent twice starts one run.",
	Data: &sdk.Schema{
		AdditionalFields: true,
		Fields: []sdk.Field{
			sdk.String("message_id", "Id of the message, as send_sms returned it."),
			sdk.String("to", "Recipient in E.164 form."),
			sdk.String("status", "Always delivered."),
			sdk.String("delivered_at", "When the phone received it, RFC 3339."),
		},
	},
}

// report is the body of the gateway's webhooks.
type report struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
}

// HandleWebhook verifies a gateway webhook and turns a delivery report of a
// delivered message into an smsgateway.delivered event whose data is the
// report. Other webhooks (reports of failed messages, other types) produce
// no event.
func (p *Provider) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if secret := req.Config.String("webhook_secret"); secret != "" {
		if err := verify(req.Header.Get(SignatureHeader), secret, req.Body); err != nil {
			return nil, err
		}
	}
	var r report
	if err := json.Unmarshal(req.Body, &r); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("gateway webhook body is not a JSON object: %v", err))
	}
	if r.Type != "delivery" || r.Status != "delivered" {
		if req.Logger != nil {
			req.Logger.Debug("ignoring gateway webhook", "type", r.Type, "status", r.Status)
		}
		return []sdk.Event{}, nil
	}
	if r.MessageID == "" {
		return nil, sdk.Permanent(fmt.Errorf("gateway delivery report has no message_id"))
	}
	return []sdk.Event{{Type: EventDelivered, ID: r.MessageID, Data: json.RawMessage(req.Body)}}, nil
}

// Sign returns the X-Signature value of body for secret, as the gateway
// computes it.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// verify checks a signature in constant time.
func verify(signature, secret string, body []byte) error {
	if signature == "" {
		return sdk.Unverified("missing %s header", SignatureHeader)
	}
	if !strings.HasPrefix(signature, "sha256=") {
		return sdk.Unverified("malformed %s header", SignatureHeader)
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, body))) {
		return sdk.Unverified("%s does not match the body", SignatureHeader)
	}
	return nil
}
