// Package chatapi is Herald's provider for Chat API (chat-api.com), a
// WhatsApp gateway: it owns the provider's declaration (config, actions and
// events), the translation of action inputs into Chat API requests and of
// Chat API responses into outputs and classified errors, and the turning of
// Chat API webhooks into events.
//
// It talks HTTP only through sdk.HTTP, which classifies status codes, renders
// dry runs with secrets masked and applies body overrides; it must not grow
// its own HTTP plumbing. Its fake, for tests and `herald sandbox`, lives in
// the fake subpackage.
package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Type is the provider type: the plugin binary is herald-provider-chatapi.
const Type = "chatapi"

// Version is the provider's version, reported by describe.
const Version = "0.1.0"

// The defaults of the URL config fields.
const (
	DefaultAPIURL        = "https://api.chat-api.com"
	DefaultManagementURL = "https://us-central1-app-chat-api-com.cloudfunctions.net"
)

// requestTimeout bounds one HTTP exchange with Chat API; a step's timeout
// may end it sooner.
const requestTimeout = 30 * time.Second

// The input patterns, declared in the schemas so `herald validate` catches a
// malformed recipient before anything runs.
const (
	// phonePattern is an international number without "+": country code
	// and subscriber number, digits only.
	phonePattern = `^[0-9]{7,15}$`
	// chatIDPattern is a private chat (NNN@c.us) or a group chat
	// (NNN-NNN@g.us, or NNN@g.us for newer groups).
	chatIDPattern = `^[0-9]+(-[0-9]+)?@[cg]\.us$`
	// instanceIDPattern keeps an instance id usable as a URL path segment.
	instanceIDPattern = `^[A-Za-z0-9_-]+$`
	urlPattern        = `^https?://`
)

// provider implements sdk.Provider and sdk.WebhookHandler for Chat API.
type provider struct {
	http *sdk.HTTP
	spec *sdk.Spec
}

var (
	_ sdk.WebhookHandler     = (*provider)(nil)
	_ sdk.InstanceConfigurer = (*provider)(nil)
)

// New returns the Chat API provider.
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
		Description: "Chat API (chat-api.com) WhatsApp gateway: send messages and files from an instance, read its status, manage the account's instances, and receive its webhooks.",
		Config:      configSchema,
		Actions: []sdk.Action{
			p.sendMessageAction(),
			p.sendFileAction(),
			p.statusAction(),
			p.createInstanceAction(),
			p.listInstancesAction(),
			p.deleteInstanceAction(),
		},
		Events: events,
	}
	return p
}

// Spec implements sdk.Provider.
func (p *provider) Spec() *sdk.Spec { return p.spec }

var configSchema = sdk.Fields(
	sdk.String("instance_id", "Chat API instance id, the NNN in /instanceNNN/. Needed by send_message, send_file and status.").
		Matching(instanceIDPattern).WithExample("229607"),
	sdk.String("token", "The instance's API token, sent as the token query parameter. Needed with instance_id.").
		AsSensitive(),
	sdk.String("api_url", "Base URL of the instance API.").
		WithDefault(DefaultAPIURL).Matching(urlPattern),
	sdk.String("uid", "The account API key (\"uid\"), needed by create_instance, list_instances and delete_instance. Unlike a token it cannot be changed: keep it secret.").
		AsSensitive(),
	sdk.String("management_url", "Base URL of the account-level instance management functions.").
		WithDefault(DefaultManagementURL).Matching(urlPattern),
	sdk.String("webhook_token", "When set, a webhook is accepted only when its URL carries ?token= with this value: Chat API does not sign webhooks, so put the token in the webhook URL you register with Chat API.").
		AsSensitive(),
)

// ConfigureInstance checks that the instance config can serve some action:
// instance credentials (instance_id with token), the account key (uid), or
// both. Which actions need which is checked again when they run, since a
// step's config override may supply the missing fields.
func (p *provider) ConfigureInstance(_ context.Context, _ string, cfg sdk.Config) error {
	hasID, hasToken := cfg.String("instance_id") != "", cfg.String("token") != ""
	switch {
	case hasID != hasToken:
		return sdk.Permanent(errors.New("config: instance_id and token must be set together"))
	case !hasID && cfg.String("uid") == "":
		return sdk.Permanent(errors.New("config: set instance_id and token to send messages, uid to manage instances, or both"))
	}
	return nil
}

// instanceEndpoint returns the URL of the instance API method and the query
// that authenticates it, from the call's config (override included).
func instanceEndpoint(call *sdk.Call, method string) (string, url.Values, error) {
	endpoint, token, err := instanceMethod(call, method)
	if err != nil {
		return "", nil, err
	}
	return endpoint, url.Values{"token": {token}}, nil
}

// instanceURL returns the URL of the instance API method with the query
// that authenticates it, as sdk.HTTP.Do joins instanceEndpoint's two (the
// token's query made once, without a url.Values).
// The URL is joined in one string (one allocation); an escaped instance id
// holds no "?", so the endpoint has a query only when the base or the
// method has one.
func instanceURL(call *sdk.Call, method string) (string, error) {
	base, id, token, err := instanceConfig(call)
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") || strings.Contains(method, "?") {
		sep = "&"
	}
	return base + "/instance" + id + "/" + method + sep + "token=" + url.QueryEscape(token), nil
}

// instanceMethod returns the URL of the instance API method without its
// query, and the token, from the call's config (override included).
func instanceMethod(call *sdk.Call, method string) (endpoint, token string, err error) {
	base, id, token, err := instanceConfig(call)
	if err != nil {
		return "", "", err
	}
	return base + "/instance" + id + "/" + method, token, nil
}

// instanceConfig returns the call's API URL without trailing slashes, its
// instance id escaped for the path, and its token.
func instanceConfig(call *sdk.Call) (base, id, token string, err error) {
	id, token = call.Config.String("instance_id"), call.Config.String("token")
	if id == "" || token == "" {
		return "", "", "", sdk.Permanent(fmt.Errorf("%s needs config instance_id and token; set them on the provider or in the step's override.config", call.Action))
	}
	return strings.TrimRight(call.Config.String("api_url"), "/"), url.PathEscape(id), token, nil
}

// managementEndpoint returns the URL of an account-level function and the
// query carrying the account key.
func managementEndpoint(call *sdk.Call, function string) (string, url.Values, error) {
	uid := call.Config.String("uid")
	if uid == "" {
		return "", nil, sdk.Permanent(fmt.Errorf("%s needs config uid, the account API key", call.Action))
	}
	base := strings.TrimRight(call.Config.String("management_url"), "/")
	return base + "/" + function, url.Values{"uid": {uid}}, nil
}
