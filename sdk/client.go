package sdk

import (
	"context"
	"encoding/json"
)

// Client is how the host calls a provider, whether it runs in a plugin
// process (reached over gRPC) or in-process (a *Server). Values travel as
// JSON.
type Client interface {
	// Describe returns the provider's declaration; handlers are nil.
	Describe(ctx context.Context) (*Spec, error)
	// Configure creates or replaces a named instance. Many instances of one
	// provider share a plugin process.
	Configure(ctx context.Context, instance string, config json.RawMessage) error
	// Invoke runs one action once and returns its JSON output or an error
	// that AsError classifies.
	Invoke(ctx context.Context, req *InvokeRequest) (json.RawMessage, error)
	// HandleWebhook verifies a provider webhook and turns it into events. A
	// request that fails verification returns an *UnverifiedError.
	HandleWebhook(ctx context.Context, req *WebhookRequest) ([]Event, error)
	// Health returns nil when the provider can serve calls.
	Health(ctx context.Context) error
}

// InvokeRequest is one call of an action.
type InvokeRequest struct {
	Instance string
	Action   string
	// Input is a JSON object.
	Input json.RawMessage
	// ConfigOverride is a JSON object merged over the instance config for
	// this call only; nil for none.
	ConfigOverride json.RawMessage
	// BodyOverride is a JSON object deep-merged into the provider request
	// body; nil for none.
	BodyOverride   json.RawMessage
	IdempotencyKey string
	// Attempt counts from 1.
	Attempt int
	DryRun  bool
}
