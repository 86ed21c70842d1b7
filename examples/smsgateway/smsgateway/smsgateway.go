// Package smsgateway is an example Herald provider, written the way a third
// party writes one: it imports only github.com/heraldhq/herald/sdk. It sends
// text messages through a small SMS gateway API (send_sms: POST
// {base_url}/messages with a bearer token) and turns the gateway's delivery
// webhooks into smsgateway.delivered events that can trigger workflows.
//
// The provider is one declaration, a *sdk.Spec: the config schema (with the
// token marked sensitive, so Herald masks it everywhere), the action with its
// input and output schemas and its handler, and the event it emits. It talks
// HTTP only through sdk.HTTP, which classifies the gateway's answers (429
// rate_limited with Retry-After, 5xx and timeouts retryable, other 4xx
// permanent), renders dry runs with the token masked and applies a step's
// override.body.
package smsgateway

import (
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Type is the provider type: the plugin binary is
// herald-provider-smsgateway.
const Type = "smsgateway"

// Version is the provider's version, reported by `herald plugins list`.
const Version = "0.1.0"

// requestTimeout bounds one HTTP exchange with the gateway; a step's timeout
// may end it sooner.
const requestTimeout = 20 * time.Second

// Provider implements sdk.Provider and sdk.WebhookHandler for the gateway.
type Provider struct {
	http *sdk.HTTP
	spec *sdk.Spec
}

var (
	_ sdk.Provider       = (*Provider)(nil)
	_ sdk.WebhookHandler = (*Provider)(nil)
)

// New returns the provider.
func New() *Provider {
	h := sdk.NewHTTP(requestTimeout)
	h.UserAgent = "herald-provider-" + Type + "/" + Version
	// The gateway says how long to back off in its 429 body, not only in
	// the Retry-After header: {"error": "...", "retry_after": 30}.
	h.RetryAfter = sdk.RetryAfterSeconds("retry_after")
	p := &Provider{http: h}
	p.spec = &sdk.Spec{
		Type:        Type,
		Version:     Version,
		Description: "Text messages through an SMS gateway, and their delivery reports as events.",
		Config: sdk.Fields(
			sdk.String("base_url", "Base URL of the gateway API, such as https://sms.example.com/v1.").
				AsRequired().Matching(`^https?://`),
			sdk.String("token", "API token, sent as Authorization: Bearer <token>.").
				AsRequired().AsSensitive(),
			sdk.String("webhook_secret", "Secret the gateway signs its webhooks with (X-Signature: sha256=<hex HMAC-SHA256 of the body>). Without it, webhooks are accepted unsigned.").
				AsSensitive(),
		),
		Actions: []sdk.Action{p.sendSMSAction()},
		Events:  []sdk.EventSpec{deliveredEvent},
	}
	return p
}

// Spec implements sdk.Provider.
func (p *Provider) Spec() *sdk.Spec { return p.spec }
