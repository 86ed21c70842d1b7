package docgen_test

// This file holds the provider that docs/plugin-authors.md walks through,
// between "guide:begin NAME" and "guide:end" lines; TestPluginGuideCode
// requires every ```go block marked <!-- go: NAME --> in the guide to be that
// region verbatim, and the tests below run it like any bundled plugin.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// guide:begin spec
// smsProvider sends SMS through a made-up Example SMS API.
type smsProvider struct {
	http *sdk.HTTP
}

// NewSMS returns the provider; a plugin's main serves it.
func NewSMS() sdk.Provider {
	h := sdk.NewHTTP(30 * time.Second)
	h.UserAgent = "herald-provider-smsdemo/0.1.0"
	return &smsProvider{http: h}
}

// Spec declares the provider once: config, actions and events.
func (p *smsProvider) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:        "smsdemo",
		Version:     "0.1.0",
		Description: "Sends SMS through the Example SMS API.",
		Config: sdk.Fields(
			sdk.String("api_key", "API key, sent as a bearer token.").AsRequired().AsSensitive(),
			sdk.String("base_url", "Base URL of the API.").
				WithDefault("https://sms.example.com").Matching(`^https?://`),
			sdk.String("webhook_token", "Token that delivery receipts carry as ?token=.").AsSensitive(),
		),
		Actions: []sdk.Action{{
			Name:        "send",
			Description: "Sends one SMS: POST {base_url}/v1/messages. override.body may set any field of the request.",
			Input: sdk.Fields(
				sdk.String("to", "Recipient in E.164 format.").AsRequired().
					Matching(`^\+[1-9][0-9]{6,14}$`).WithExample("+14155550123"),
				sdk.String("text", "Message text.").AsRequired(),
			),
			Output: sdk.Fields(
				sdk.String("id", "Message id the API assigned.").WithExample("msg_123"),
				sdk.String("status", "Delivery status: queued or sent."),
			),
			// Receipts: smsdemo.delivered reports the delivery of the
			// message whose id the output's "id" holds.
			Delivery: &sdk.DeliverySpec{Event: "smsdemo.delivered", OutputField: "id"},
			Run:      p.send,
		}},
		Events: []sdk.EventSpec{{
			Name:        "smsdemo.delivered",
			Description: "A delivery receipt; its id is the message id.",
			Data:        &sdk.Schema{AdditionalFields: true, Fields: []sdk.Field{sdk.String("id", "Message id.")}},
		}},
	}
}

// guide:end

// guide:begin send
// send runs the send action. Its input has been validated against the
// schema, and its config has the defaults applied.
func (p *smsProvider) send(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	resp, err := p.http.Do(ctx, call, sdk.Request{
		Method: http.MethodPost,
		URL:    strings.TrimRight(call.Config.String("base_url"), "/") + "/v1/messages",
		Header: http.Header{
			"Authorization":   {"Bearer " + call.Config.String("api_key")},
			"Idempotency-Key": {call.IdempotencyKey},
		},
		Body:      map[string]any{"to": in.To, "text": in.Text},
		MergeBody: true, // apply the step's override.body
	})
	if err != nil || resp.DryRun {
		return nil, err // classified by sdk.HTTP; nothing was sent in a dry run
	}
	var out struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := resp.JSON(&out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, sdk.Permanent(errors.New("the API accepted the message but returned no id"))
	}
	return out, nil
}

// guide:end

// guide:begin webhook
// HandleWebhook turns a delivery receipt into an event. The Example SMS API
// does not sign its webhooks, so the URL registered with it carries a token.
func (p *smsProvider) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if want := req.Config.String("webhook_token"); want != "" &&
		subtle.ConstantTimeCompare([]byte(req.Query.Get("token")), []byte(want)) != 1 {
		return nil, sdk.Unverified("the token query parameter does not match webhook_token")
	}
	var receipt struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(req.Body, &receipt); err != nil || receipt.ID == "" {
		return nil, sdk.Permanent(fmt.Errorf("a delivery receipt is a JSON object with an id"))
	}
	return []sdk.Event{{
		Type: "smsdemo.delivered", ID: receipt.ID, Data: req.Body,
		// The host records it on the step whose output named the message.
		Receipt: &sdk.Receipt{MessageID: receipt.ID, Status: sdk.DeliveryDelivered},
	}}, nil
}

// guide:end

// fakeSMSAPI answers like the Example SMS API.
func fakeSMSAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sms-key-0042" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"bad api key"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"msg_1","status":"queued"}`))
	})
	return mux
}

// guide:begin conformance
func TestConformance(t *testing.T) {
	sdktest.Conformance(t, NewSMS(), sdktest.Options{
		Config: func(baseURL string) map[string]any {
			return map[string]any{"api_key": "sms-key-0042", "base_url": baseURL}
		},
		Fake:   fakeSMSAPI(),
		Inputs: map[string]map[string]any{"send": {"to": "+14155550123", "text": "hi"}},
	})
}

// guide:end

// TestGuideProviderWebhook runs the guide's webhook handler over the plugin
// protocol.
func TestGuideProviderWebhook(t *testing.T) {
	t.Parallel()
	client := sdktest.Serve(t, NewSMS())
	ctx := context.Background()
	cfg, err := json.Marshal(map[string]any{"api_key": "sms-key-0042", "webhook_token": "hook-token-7"})
	require.NoError(t, err)
	require.NoError(t, client.Configure(ctx, "sms", cfg))

	events, err := client.HandleWebhook(ctx, &sdk.WebhookRequest{
		Instance: "sms", Method: http.MethodPost,
		Query: map[string][]string{"token": {"hook-token-7"}},
		Body:  []byte(`{"id":"msg_1","status":"delivered"}`),
	})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "smsdemo.delivered", events[0].Type)
	require.Equal(t, "msg_1", events[0].ID)

	_, err = client.HandleWebhook(ctx, &sdk.WebhookRequest{Instance: "sms", Method: http.MethodPost, Body: []byte(`{"id":"msg_1"}`)})
	var uv *sdk.UnverifiedError
	require.ErrorAs(t, err, &uv)
}
