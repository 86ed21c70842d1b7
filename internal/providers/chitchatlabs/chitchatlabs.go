// Package chitchatlabs is Herald's provider for ChitChatLabs
// (app.chitchatlabs.com), which sends WhatsApp template messages: it owns the
// provider's declaration and the translation of send_single and send_blast
// inputs into ChitChatLabs requests and of the answers into outputs.
//
// It talks HTTP only through sdk.HTTP, which classifies status codes, renders
// dry runs with the API key masked and applies body overrides; it must not
// grow its own HTTP plumbing. ChitChatLabs sends no webhooks, so the provider
// emits no events. Its fake lives in the fake subpackage.
package chitchatlabs

import (
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Type is the provider type: the plugin binary is
// herald-provider-chitchatlabs.
const Type = "chitchatlabs"

// Version is the provider's version, reported by describe.
const Version = "0.1.0"

// DefaultBaseURL is the default of the base_url config field.
const DefaultBaseURL = "https://app.chitchatlabs.com"

// APIKeyHeader carries the tenant's API key on every request.
const APIKeyHeader = "x-tenant-api-key"

// requestTimeout bounds one HTTP exchange with ChitChatLabs; a step's
// timeout may end it sooner.
const requestTimeout = 30 * time.Second

// provider implements sdk.Provider for ChitChatLabs.
type provider struct {
	http *sdk.HTTP
	spec *sdk.Spec
}

// New returns the ChitChatLabs provider.
func New() sdk.Provider {
	return newProvider(sdk.NewHTTP(requestTimeout))
}

// newProvider returns the provider sending through h; tests use it to
// shorten timeouts.
func newProvider(h *sdk.HTTP) *provider {
	h.UserAgent = "herald-provider-" + Type + "/" + Version
	p := &provider{http: h}
	p.spec = &sdk.Spec{
		Type:        Type,
		Version:     Version,
		Description: "ChitChatLabs WhatsApp template messages, to one number or to the contacts a search selects.",
		Config: sdk.Fields(
			sdk.String("api_key", "Tenant API key from Settings > Account Information, sent as the "+APIKeyHeader+" header.").
				AsRequired().AsSensitive(),
			sdk.String("base_url", "Base URL of the ChitChatLabs API.").
				WithDefault(DefaultBaseURL).Matching(`^https?://`),
		),
		Actions: []sdk.Action{p.sendSingleAction(), p.sendBlastAction()},
		Limits:  &sdk.Limits{Rate: "80/s", Source: throughputSource},
	}
	return p
}

// The WhatsApp Business Platform limits ChitChatLabs sends under: 80
// messages a second per business number by default, and one message every
// 6 seconds to the same user. ChitChatLabs publishes no limit of its own.
const (
	throughputSource = "https://developers.facebook.com/docs/whatsapp/throughput"
	pairRateSource   = "https://developers.facebook.com/docs/whatsapp/cloud-api/overview#pair-rate-limits"
)

// Spec implements sdk.Provider.
func (p *provider) Spec() *sdk.Spec { return p.spec }
