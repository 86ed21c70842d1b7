package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Provider is what a plugin author implements: one declaration of the
// provider's type, schemas and action handlers. Optional capabilities come
// through extra interfaces: WebhookHandler, HealthChecker and
// InstanceConfigurer.
type Provider interface {
	Spec() *Spec
}

// WebhookHandler is implemented by providers that turn provider webhooks into
// events. A request that fails verification returns an error made with
// Unverified.
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, req *WebhookRequest) ([]Event, error)
}

// HealthChecker is implemented by providers that can report their health.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// InstanceConfigurer is implemented by providers that check or prepare an
// instance when the host configures it. The config has been validated against
// Spec.Config and has its defaults applied.
type InstanceConfigurer interface {
	ConfigureInstance(ctx context.Context, instance string, config Config) error
}

// Spec declares a provider. Handlers live beside their schemas so the one
// declaration serves validation, docs and dispatch.
type Spec struct {
	// Type is the provider type, the <type> in herald-provider-<type>.
	Type        string `json:"type"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Config declares the instance configuration; sensitive fields are
	// masked everywhere.
	Config  Schema      `json:"config"`
	Actions []Action    `json:"actions"`
	Events  []EventSpec `json:"events,omitempty"`
	// Limits, when set, is every instance's default rate limit.
	Limits *Limits `json:"limits,omitempty"`
	// Capabilities lists optional features, filled in by the SDK from the
	// interfaces the provider implements ("webhook", "health").
	Capabilities []string `json:"capabilities,omitempty"`
}

// Action returns the action named name.
func (s *Spec) Action(name string) (*Action, bool) {
	for i := range s.Actions {
		if s.Actions[i].Name == name {
			return &s.Actions[i], true
		}
	}
	return nil, false
}

// Event returns the event named name.
func (s *Spec) Event(name string) (*EventSpec, bool) {
	for i := range s.Events {
		if s.Events[i].Name == name {
			return &s.Events[i], true
		}
	}
	return nil, false
}

// HandlerFunc runs one action once.
type HandlerFunc func(ctx context.Context, call *Call) (any, error)

// Action declares one operation of a provider.
type Action struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Input       Schema `json:"input"`
	Output      Schema `json:"output"`
	// RecipientLimit, when set, limits how often the action reaches one
	// recipient.
	RecipientLimit *RecipientLimit `json:"recipient_limit,omitempty"`
	// Delivery, when set, declares the event that reports the delivery of
	// the messages this action sends (§10 of the spec): the host records
	// the receipts on the step that sent them.
	Delivery *DeliverySpec `json:"delivery,omitempty"`
	// Run handles the action. The input has been validated against Input.
	Run HandlerFunc `json:"-"`
	// Reconcile, when set, tells whether an attempt of Run whose outcome
	// is in doubt reached the provider (see ReconcileFunc). Actions without
	// one stop for an operator on an in-doubt send unless the step says
	// on_in_doubt = "retry".
	Reconcile ReconcileFunc `json:"-"`
	// Reconciles is what describe says about Reconcile: the SDK sets it
	// from Reconcile, and on the host side, where handlers are nil, it is
	// the only sign of one. Use CanReconcile rather than reading it.
	Reconciles bool `json:"reconcile,omitempty"`
}

// EventSpec declares an event a provider can emit from its webhooks.
type EventSpec struct {
	// Name is the full event type, such as "chatwoot.message_created".
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Data        *Schema `json:"data,omitempty"`
}

// Config is an instance's configuration: the instance config with the call's
// config override merged over it and the schema's defaults applied.
type Config map[string]any

// String returns the string at key, or "" when absent. Numbers are formatted
// without exponent, so an instance id given as 12345 reads as "12345".
func (c Config) String(key string) string {
	switch v := c[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Int returns the integer at key, or 0 when absent or not an integer.
func (c Config) Int(key string) int64 {
	if i, ok := asInteger(c[key]); ok {
		return i
	}
	if s, ok := c[key].(string); ok {
		i, _ := strconv.ParseInt(s, 10, 64)
		return i
	}
	return 0
}

// Bool returns the boolean at key.
func (c Config) Bool(key string) bool {
	b, _ := c[key].(bool)
	return b
}

// Call is one invocation of an action.
type Call struct {
	Instance string
	Action   string
	// Input is the validated input object.
	Input map[string]any
	// Config is the instance config with the step's override applied.
	Config Config
	// BodyOverride is deep-merged into the provider request body by
	// HTTP.Do when the Request sets MergeBody.
	BodyOverride map[string]any
	// IdempotencyKey is stable across retries of the same step and item:
	// pass it on to providers that accept one.
	IdempotencyKey string
	// Attempt counts from 1.
	Attempt int
	// DryRun asks the provider to render the requests it would send and send
	// nothing. HTTP.Do honours it.
	DryRun bool
	// Logger writes to the host's log as provider.<type>.
	Logger hclog.Logger

	secrets  []string
	rendered []RenderedRequest
	// lookup is set while the call reconciles: HTTP.Do sends only GET and
	// HEAD requests.
	lookup bool
	// masker is the Server's cached masker of secrets; maskerOnce builds
	// one on first use for a Call made outside a Server.
	masker     *Masker
	maskerOnce sync.Once
}

// Bind decodes the call's input into v, a pointer to a struct with json tags,
// as decoding the input's JSON encoding into v would.
func (c *Call) Bind(v any) error {
	if bindInput(c.Input, v) {
		return nil
	}
	return bindJSON(c.Input, v)
}

// bindJSON decodes input into v through its JSON encoding: what Bind does
// when its direct path declines.
func bindJSON(input map[string]any, v any) error {
	b, err := json.Marshal(input)
	if err != nil {
		return Permanent(fmt.Errorf("encode input: %w", err))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return Permanent(fmt.Errorf("decode input: %w", err))
	}
	return nil
}

// Secrets returns the values of the sensitive config fields of this call; the
// SDK masks them in everything it renders.
func (c *Call) Secrets() []string { return c.secrets }

// Masker returns the Masker of the call's sensitive config values. Mask a
// text with it before cutting it short: a value cut in two is no longer
// recognised.
// A nil Call's Masker masks nothing.
func (c *Call) Masker() *Masker {
	if c == nil {
		return nil
	}
	c.maskerOnce.Do(func() {
		if c.masker == nil {
			// A Call made outside a Server, as in a provider's unit test.
			c.masker = NewMasker(c.secrets...)
		}
	})
	return c.masker
}

// Reconciling reports whether the call is a reconcile lookup, which must
// send nothing.
func (c *Call) Reconciling() bool { return c != nil && c.lookup }

// Rendered returns the requests recorded in dry-run mode.
func (c *Call) Rendered() []RenderedRequest { return c.rendered }

// Render records req, with sensitive values masked, as a request the call
// would send. HTTP.Do calls it in dry-run mode; providers with a non-HTTP
// transport call it themselves.
func (c *Call) Render(req RenderedRequest) {
	c.rendered = append(c.rendered, c.Masker().Request(req))
}

// WebhookRequest is a provider webhook as the host received it.
type WebhookRequest struct {
	Instance string
	// Config is the instance's config.
	Config Config
	Method string
	Path   string
	Header http.Header
	Query  url.Values
	Body   []byte
	Logger hclog.Logger
}

// Event is one event a webhook produced.
type Event struct {
	// Type is the full event type, such as "chatwoot.message_created".
	Type string `json:"type"`
	// ID identifies the delivery for de-duplication; empty when the provider
	// has none.
	ID string `json:"id,omitempty"`
	// Data is the event payload, available to workflows as trigger.event.
	Data json.RawMessage `json:"data"`
	// Receipt, when the event reports the delivery of a message an action
	// sent, names that message and its new status; nil otherwise.
	Receipt *Receipt `json:"receipt,omitempty"`
}
