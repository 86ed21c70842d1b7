package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/tracing/tracecontext"
	"github.com/heraldhq/herald/sdk"
)

// supervisedClient is the sdk.Client of a plugin process the host
// supervises: each call goes to the current process.
type supervisedClient struct {
	p *provider
}

var (
	_ sdk.Client     = (*supervisedClient)(nil)
	_ sdk.Reconciler = (*supervisedClient)(nil)
)

// do runs call against the live process and notices when it died under the
// call.
func (c *supervisedClient) do(ctx context.Context, call func(ctx context.Context, rpc sdk.Client) error) error {
	pr, err := c.p.live(ctx)
	if err != nil {
		return err
	}
	o := &outcome{}
	// The call's span context goes to the plugin as gRPC metadata (on a
	// stream, as the call frame's metadata).
	err = call(context.WithValue(tracecontext.ToOutgoingGRPC(ctx), outcomeKey{}, o), pr.rpc)
	if err != nil && o.code == codes.OK {
		// A streamed invoke passes no interceptor: its transport failure
		// carries the stream's gRPC status instead.
		if st, ok := status.FromError(err); ok {
			o.code = st.Code()
		}
	}
	if err != nil && o.code != codes.OK && ctx.Err() == nil && c.p.transportFailed(pr) {
		died := fmt.Errorf("provider %s: plugin process %d exited during the call: %w", c.p.typ, pr.pid, err)
		if sdk.AsError(err).Class == sdk.ClassInDoubt {
			// An invoke the plugin may have sent before it died.
			return sdk.InDoubt(died)
		}
		return sdk.Retryable(died)
	}
	return err
}

// Describe returns the provider's declaration.
func (c *supervisedClient) Describe(ctx context.Context) (*sdk.Spec, error) {
	var spec *sdk.Spec
	err := c.do(ctx, func(ctx context.Context, rpc sdk.Client) (err error) {
		spec, err = rpc.Describe(ctx)
		return err
	})
	return spec, err
}

// Configure configures the instance and remembers it for relaunches.
func (c *supervisedClient) Configure(ctx context.Context, instance string, config json.RawMessage) error {
	err := c.do(ctx, func(ctx context.Context, rpc sdk.Client) error {
		return rpc.Configure(ctx, instance, config)
	})
	if err == nil {
		c.p.mu.Lock()
		c.p.instances[instance] = append(json.RawMessage(nil), config...)
		c.p.instGen++
		c.p.mu.Unlock()
	}
	return err
}

// Invoke runs one action once.
func (c *supervisedClient) Invoke(ctx context.Context, req *sdk.InvokeRequest) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, func(ctx context.Context, rpc sdk.Client) (err error) {
		out, err = rpc.Invoke(ctx, req)
		return err
	})
	return out, err
}

// HandleWebhook passes a provider webhook to the plugin.
func (c *supervisedClient) HandleWebhook(ctx context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	var events []sdk.Event
	err := c.do(ctx, func(ctx context.Context, rpc sdk.Client) (err error) {
		events, err = rpc.HandleWebhook(ctx, req)
		return err
	})
	return events, err
}

// Health reports whether the plugin is up and healthy.
func (c *supervisedClient) Health(ctx context.Context) error {
	return c.do(ctx, func(ctx context.Context, rpc sdk.Client) error { return rpc.Health(ctx) })
}

// Reconcile asks the plugin whether an earlier attempt of an invoke reached
// the provider. A plugin built before the protocol had Reconcile answers
// sdk.ErrNoReconcile.
func (c *supervisedClient) Reconcile(ctx context.Context, req *sdk.ReconcileRequest) (*sdk.Reconciliation, error) {
	var rec *sdk.Reconciliation
	err := c.do(ctx, func(ctx context.Context, rpc sdk.Client) (err error) {
		r, ok := rpc.(sdk.Reconciler)
		if !ok {
			return sdk.Permanent(fmt.Errorf("%w: provider %s", sdk.ErrNoReconcile, c.p.typ))
		}
		rec, err = r.Reconcile(ctx, req)
		return err
	})
	return rec, err
}
