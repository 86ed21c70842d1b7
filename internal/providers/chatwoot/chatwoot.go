// Package chatwoot is Herald's Chatwoot provider: it owns the Chatwoot
// declaration (instance config, actions, events), the requests the actions
// send to a Chatwoot account's Application API, and the verification of the
// webhooks Chatwoot delivers.
//
// The actions follow Chatwoot's "send messages to an API channel" recipe:
// a contact gets a contact inbox (a session, named by its source_id) in the
// instance's API inbox, a conversation is opened with that source_id, and
// messages are created in the conversation. send_message runs the whole
// recipe, reusing what already exists.
//
// Chatwoot takes no idempotency keys. A retried send_message finds the
// contact it created and reuses the open conversation, so only the last
// request, the message itself, can be repeated when a response is lost. The
// call's idempotency key travels as the message's echo_id, which Chatwoot
// echoes in its response and realtime events but does not de-duplicate on:
// it ties a Chatwoot message to the Herald step that sent it. When a send is
// in doubt, the reconcile handlers (reconcile.go) look up what it created.
//
// The package speaks HTTP through sdk.HTTP only, so error classification,
// dry-run rendering and secret masking are the SDK's. It must not import
// anything from the Herald engine; its fake lives in the fake subpackage.
package chatwoot

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Version is the provider's version, reported by describe.
const Version = "0.1.0"

// defaultTolerance is how far a webhook's X-Chatwoot-Timestamp may be from
// the provider's clock when the instance does not set webhook_tolerance.
const defaultTolerance = 5 * time.Minute

// requestTimeout bounds one HTTP request; a call's deadline may end it sooner.
const requestTimeout = 30 * time.Second

// Provider is the Chatwoot provider. Build it with New; one Provider serves
// every instance of the plugin process.
type Provider struct {
	// Now is the clock webhook timestamps are checked against; nil uses
	// time.Now.
	Now func() time.Time

	http       *sdk.HTTP
	deliveries *deliverySet

	specOnce sync.Once
	spec     *sdk.Spec
}

var (
	_ sdk.Provider           = (*Provider)(nil)
	_ sdk.WebhookHandler     = (*Provider)(nil)
	_ sdk.InstanceConfigurer = (*Provider)(nil)
)

// New returns the Chatwoot provider.
func New() sdk.Provider {
	h := sdk.NewHTTP(requestTimeout)
	h.UserAgent = "herald-provider-chatwoot/" + Version
	h.ErrorMessage = errorMessage
	return &Provider{
		http:       h,
		deliveries: newDeliverySet(deliveryCapacity, deliveryTTL),
	}
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// settings is an instance config, parsed.
type settings struct {
	baseURL   string
	accountID int64
	inboxID   int64
	token     string
	secret    string
	tolerance time.Duration
}

// parseSettings reads the validated instance config.
func parseSettings(cfg sdk.Config) (settings, error) {
	s := settings{
		baseURL:   strings.TrimRight(cfg.String("base_url"), "/"),
		accountID: cfg.Int("account_id"),
		inboxID:   cfg.Int("inbox_id"),
		token:     cfg.String("api_access_token"),
		secret:    cfg.String("webhook_secret"),
		tolerance: defaultTolerance,
	}
	u, err := url.Parse(s.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, sdk.InvalidInput("base_url", "must be an absolute http(s) URL, got %q", cfg.String("base_url"))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return s, sdk.InvalidInput("base_url", "must not have a query or fragment")
	}
	if s.accountID <= 0 {
		return s, sdk.InvalidInput("account_id", "must be a positive integer")
	}
	if s.inboxID <= 0 {
		return s, sdk.InvalidInput("inbox_id", "must be a positive integer")
	}
	if v := cfg.String("webhook_tolerance"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, sdk.InvalidInput("webhook_tolerance", "must be a positive duration such as \"5m\", got %q", v)
		}
		s.tolerance = d
	}
	return s, nil
}

// accountURL returns the URL of path under the instance's account, such as
// /contacts/search. Arguments are formatted into path with fmt.
func (s settings) accountURL(path string, args ...any) string {
	return fmt.Sprintf("%s/api/v1/accounts/%d", s.baseURL, s.accountID) + fmt.Sprintf(path, args...)
}

// Spec declares the provider.
func (p *Provider) Spec() *sdk.Spec {
	p.specOnce.Do(func() { p.spec = p.buildSpec() })
	return p.spec
}

func (p *Provider) buildSpec() *sdk.Spec {
	return &sdk.Spec{
		Type:        "chatwoot",
		Version:     Version,
		Description: "Chatwoot: contacts, conversations and messages in an API channel inbox, and Chatwoot webhooks as events.",
		Config: sdk.Fields(
			sdk.String("base_url", "Chatwoot installation URL, such as https://app.chatwoot.com.").
				AsRequired().Matching(`^https?://[^\s?#]+$`).WithExample("https://chat.example.com"),
			sdk.Integer("account_id", "Numeric ID of the Chatwoot account.").AsRequired().WithExample(1),
			sdk.String("api_access_token", "Access token from Profile settings, sent as the api_access_token header.").
				AsRequired().AsSensitive(),
			sdk.Integer("inbox_id", "Numeric ID of the API channel inbox contacts and conversations are created in.").
				AsRequired().WithExample(3),
			sdk.String("webhook_secret", "Secret of the Chatwoot webhook; when set, X-Chatwoot-Signature is required and verified.").
				AsSensitive(),
			sdk.String("webhook_tolerance", "How far X-Chatwoot-Timestamp may be from now before a webhook is rejected as stale.").
				WithDefault("5m").Matching(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`),
		),
		Actions: []sdk.Action{
			p.sendMessageAction(),
			p.createContactAction(),
			p.createConversationAction(),
			p.createMessageAction(),
			p.searchContactsAction(),
		},
		Events: events(),
	}
}

// ConfigureInstance checks what the schema cannot: that base_url is a usable
// URL and webhook_tolerance a positive duration.
func (p *Provider) ConfigureInstance(_ context.Context, _ string, cfg sdk.Config) error {
	_, err := parseSettings(cfg)
	return err
}
