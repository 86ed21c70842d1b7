package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// ProtocolVersion is the version of the plugin protocol this SDK speaks.
const ProtocolVersion = 1

// PluginName is the name under which the provider service is dispensed.
const PluginName = "provider"

// Handshake is the go-plugin handshake the host and every provider plugin
// share. The cookie only keeps a plugin binary from being run by hand by
// mistake; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "HERALD_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "5f0c7a3e-herald-provider-plugin",
}

// MaxMessageSize caps gRPC messages in both directions. gRPC's default
// receive cap is 4 MiB, which a send_file input carrying a data URI, a large
// blast response or a batch of webhook events can exceed; 64 MiB admits those
// while still bounding what one bad message can make a process allocate.
const MaxMessageSize = 64 << 20

// VersionedPlugins returns the plugin sets by protocol version, for the
// host's go-plugin client.
func VersionedPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &grpcPlugin{}}}
}

// flowWindow is the fixed HTTP/2 flow-control window of a plugin connection,
// per stream and per connection, on both sides. Setting it turns off gRPC's
// bandwidth-delay estimation, which pings the peer as data arrives to size
// the window for a wide-area link. Host and plugin share one machine, so
// those pings only cost wake-ups on both sides of every call (measured: about
// 15% of a no-op invoke on a 2-vCPU VM); 1 MiB keeps a 64 MiB message moving
// without waiting on window updates.
const flowWindow = 1 << 20

// GRPCDialOptions returns the dial options the host uses for plugins.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}
}

// grpcServer builds the plugin's gRPC server: message caps and flow window
// as on the host side, and a pool of stream workers (one per CPU) so a call
// is handed to a waiting goroutine instead of a new one.
func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts,
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(flowWindow), grpc.InitialConnWindowSize(flowWindow),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	)
	return grpc.NewServer(opts...)
}

// grpcPlugin is the go-plugin glue: on the plugin side it serves a Server,
// on the host side it returns a Client.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *Server
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.server == nil {
		return errors.New("no provider to serve")
	}
	pluginpb.RegisterProviderServer(s, &grpcServerAdapter{srv: p.server})
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{rpc: pluginpb.NewProviderClient(conn)}, nil
}

// grpcServerAdapter serves a Server over the protocol.
type grpcServerAdapter struct {
	pluginpb.UnimplementedProviderServer
	srv *Server
}

func (a *grpcServerAdapter) Describe(ctx context.Context, _ *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	spec, err := a.srv.Describe(ctx)
	if err != nil {
		return nil, err
	}
	return specToProto(spec)
}

func (a *grpcServerAdapter) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	err := a.srv.Configure(ctx, req.Instance, req.Config)
	return &pluginpb.ConfigureResponse{Error: errorToProto(err)}, nil
}

func (a *grpcServerAdapter) Invoke(ctx context.Context, req *pluginpb.InvokeRequest) (*pluginpb.InvokeResponse, error) {
	ex := &Exchange{}
	ctx = WithExchange(ctx, ex)
	out, err := a.srv.Invoke(ctx, &InvokeRequest{
		Instance:       req.Instance,
		Action:         req.Action,
		Input:          req.Input,
		ConfigOverride: req.ConfigOverride,
		BodyOverride:   req.BodyOverride,
		IdempotencyKey: req.IdempotencyKey,
		Attempt:        int(req.Attempt),
		DryRun:         req.DryRun,
	})
	if err != nil {
		return &pluginpb.InvokeResponse{Error: errorToProto(err), Request: ex.Request(), Response: ex.Response()}, nil
	}
	return &pluginpb.InvokeResponse{Output: out, Request: ex.Request(), Response: ex.Response()}, nil
}

func (a *grpcServerAdapter) HandleWebhook(ctx context.Context, req *pluginpb.WebhookRequest) (*pluginpb.WebhookResponse, error) {
	events, err := a.srv.HandleWebhook(ctx, &WebhookRequest{
		Instance: req.Instance,
		Method:   req.Method,
		Path:     req.Path,
		Header:   http.Header(valuesFromProto(req.Headers)),
		Query:    url.Values(valuesFromProto(req.Query)),
		Body:     req.Body,
	})
	if err != nil {
		var uv *UnverifiedError
		if errors.As(err, &uv) {
			return &pluginpb.WebhookResponse{Unverified: true, Message: uv.Reason}, nil
		}
		return &pluginpb.WebhookResponse{Error: errorToProto(err)}, nil
	}
	resp := &pluginpb.WebhookResponse{}
	for _, e := range events {
		resp.Events = append(resp.Events, eventToProto(e))
	}
	return resp, nil
}

func (a *grpcServerAdapter) Health(ctx context.Context, _ *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	if err := a.srv.Health(ctx); err != nil {
		return &pluginpb.HealthResponse{Ok: false, Message: err.Error()}, nil
	}
	return &pluginpb.HealthResponse{Ok: true}, nil
}

// grpcClient is the host's Client for a plugin process.
type grpcClient struct {
	rpc pluginpb.ProviderClient
}

var _ Client = (*grpcClient)(nil)

func (c *grpcClient) Describe(ctx context.Context) (*Spec, error) {
	resp, err := c.rpc.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return nil, transportErr(ctx, "describe", err)
	}
	return specFromProto(resp)
}

func (c *grpcClient) Configure(ctx context.Context, instance string, config json.RawMessage) error {
	resp, err := c.rpc.Configure(ctx, &pluginpb.ConfigureRequest{Instance: instance, Config: config})
	if err != nil {
		return transportErr(ctx, "configure", err)
	}
	return errorFromProto(resp.Error)
}

func (c *grpcClient) Invoke(ctx context.Context, req *InvokeRequest) (json.RawMessage, error) {
	resp, err := c.rpc.Invoke(ctx, &pluginpb.InvokeRequest{
		Instance:       req.Instance,
		Action:         req.Action,
		Input:          req.Input,
		ConfigOverride: req.ConfigOverride,
		BodyOverride:   req.BodyOverride,
		IdempotencyKey: req.IdempotencyKey,
		Attempt:        int32(req.Attempt),
		DryRun:         req.DryRun,
	})
	if err != nil {
		return nil, transportErr(ctx, "invoke "+req.Action, err)
	}
	if len(resp.Request) > 0 {
		ExchangeFrom(ctx).SetRaw(resp.Request, resp.Response)
	}
	if resp.Error != nil {
		return nil, errorFromProto(resp.Error)
	}
	return resp.Output, nil
}

func (c *grpcClient) HandleWebhook(ctx context.Context, req *WebhookRequest) ([]Event, error) {
	resp, err := c.rpc.HandleWebhook(ctx, &pluginpb.WebhookRequest{
		Instance: req.Instance,
		Method:   req.Method,
		Path:     req.Path,
		Headers:  valuesToProto(req.Header),
		Query:    valuesToProto(req.Query),
		Body:     req.Body,
	})
	if err != nil {
		return nil, transportErr(ctx, "webhook", err)
	}
	if resp.Unverified {
		return nil, &UnverifiedError{Reason: resp.Message}
	}
	if resp.Error != nil {
		return nil, errorFromProto(resp.Error)
	}
	events := make([]Event, len(resp.Events))
	for i, e := range resp.Events {
		events[i] = eventFromProto(e)
	}
	return events, nil
}

func (c *grpcClient) Health(ctx context.Context) error {
	resp, err := c.rpc.Health(ctx, &pluginpb.HealthRequest{})
	if err != nil {
		return transportErr(ctx, "health", err)
	}
	if !resp.Ok {
		return Retryable(errors.New(resp.Message))
	}
	return nil
}

// transportErr classifies a failed RPC. The plugin process dying mid-call,
// a broken connection and a cancelled or expired call are all retryable: the
// action may or may not have run, and the next attempt reaches a relaunched
// plugin with the same idempotency key.
func transportErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Retryable(fmt.Errorf("plugin %s: %w", op, ctxErr))
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.DeadlineExceeded:
		return Retryable(fmt.Errorf("plugin %s: %w", op, context.DeadlineExceeded))
	case codes.Canceled:
		return Retryable(fmt.Errorf("plugin %s: %w", op, context.Canceled))
	}
	return Retryable(fmt.Errorf("plugin %s: %s", op, st.Message()))
}

func errorToProto(err error) *pluginpb.Error {
	if err == nil {
		return nil
	}
	e := AsError(err)
	class := pluginpb.ErrorClass_ERROR_CLASS_RETRYABLE
	switch e.Class {
	case ClassPermanent:
		class = pluginpb.ErrorClass_ERROR_CLASS_PERMANENT
	case ClassRateLimited:
		class = pluginpb.ErrorClass_ERROR_CLASS_RATE_LIMITED
	}
	return &pluginpb.Error{
		Class:        class,
		Message:      e.Message,
		Field:        e.Field,
		RetryAfterMs: e.RetryAfter.Milliseconds(),
		StatusCode:   int32(e.StatusCode),
	}
}

func errorFromProto(pe *pluginpb.Error) error {
	if pe == nil {
		return nil
	}
	class := ClassRetryable
	switch pe.Class {
	case pluginpb.ErrorClass_ERROR_CLASS_PERMANENT:
		class = ClassPermanent
	case pluginpb.ErrorClass_ERROR_CLASS_RATE_LIMITED:
		class = ClassRateLimited
	}
	return &Error{
		Class:      class,
		Message:    pe.Message,
		Field:      pe.Field,
		RetryAfter: time.Duration(pe.RetryAfterMs) * time.Millisecond,
		StatusCode: int(pe.StatusCode),
	}
}

func specToProto(spec *Spec) (*pluginpb.DescribeResponse, error) {
	cfg, err := json.Marshal(spec.Config)
	if err != nil {
		return nil, err
	}
	resp := &pluginpb.DescribeResponse{
		Type:         spec.Type,
		Version:      spec.Version,
		Description:  spec.Description,
		ConfigSchema: cfg,
		Capabilities: spec.Capabilities,
	}
	for _, a := range spec.Actions {
		in, err := json.Marshal(a.Input)
		if err != nil {
			return nil, err
		}
		out, err := json.Marshal(a.Output)
		if err != nil {
			return nil, err
		}
		delivery, err := deliveryToProto(a.Delivery)
		if err != nil {
			return nil, err
		}
		resp.Actions = append(resp.Actions, &pluginpb.ActionSpec{Name: a.Name, Description: a.Description, InputSchema: in, OutputSchema: out, Delivery: delivery})
	}
	for _, e := range spec.Events {
		var data []byte
		if e.Data != nil {
			if data, err = json.Marshal(e.Data); err != nil {
				return nil, err
			}
		}
		resp.Events = append(resp.Events, &pluginpb.EventSpec{Name: e.Name, Description: e.Description, Schema: data})
	}
	return resp, nil
}

func specFromProto(resp *pluginpb.DescribeResponse) (*Spec, error) {
	spec := &Spec{Type: resp.Type, Version: resp.Version, Description: resp.Description, Capabilities: resp.Capabilities}
	if err := unmarshalSchema(resp.ConfigSchema, &spec.Config); err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	for _, a := range resp.Actions {
		act := Action{Name: a.Name, Description: a.Description}
		if err := unmarshalSchema(a.InputSchema, &act.Input); err != nil {
			return nil, fmt.Errorf("action %s input schema: %w", a.Name, err)
		}
		if err := unmarshalSchema(a.OutputSchema, &act.Output); err != nil {
			return nil, fmt.Errorf("action %s output schema: %w", a.Name, err)
		}
		d, err := deliveryFromProto(a.Delivery)
		if err != nil {
			return nil, fmt.Errorf("action %s delivery: %w", a.Name, err)
		}
		act.Delivery = d
		spec.Actions = append(spec.Actions, act)
	}
	for _, e := range resp.Events {
		ev := EventSpec{Name: e.Name, Description: e.Description}
		if len(e.Schema) > 0 {
			ev.Data = &Schema{}
			if err := unmarshalSchema(e.Schema, ev.Data); err != nil {
				return nil, fmt.Errorf("event %s schema: %w", e.Name, err)
			}
		}
		spec.Events = append(spec.Events, ev)
	}
	return spec, nil
}

func unmarshalSchema(b []byte, s *Schema) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, s)
}

func valuesToProto(m map[string][]string) map[string]*pluginpb.Values {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*pluginpb.Values, len(m))
	for k, v := range m {
		out[k] = &pluginpb.Values{Values: v}
	}
	return out
}

func valuesFromProto(m map[string]*pluginpb.Values) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v.GetValues()
	}
	return out
}
