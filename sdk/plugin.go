package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/pluginpb"
	"github.com/heraldhq/herald/internal/tracing/tracecontext"
)

// ProtocolVersion is the newest version of the plugin protocol this SDK
// speaks. Protocol 2 streams invokes over one long-lived gRPC stream per
// plugin connection (internal/pluginpb/stream.proto); protocol 1 makes every
// call a unary RPC. The host offers both and go-plugin settles on the newest
// the plugin serves, so plugins built for protocol 1 keep working.
const ProtocolVersion = 2

// protocolUnary is protocol 1, in which an invoke is a unary RPC.
const protocolUnary = 1

// PluginName is the name under which the provider service is dispensed.
const PluginName = "provider"

// Handshake is the go-plugin handshake the host and every provider plugin
// share. The cookie only keeps a plugin binary from being run by hand by
// mistake; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	// The version implied for a peer that does not list versions (a plugin
	// in debug mode, an old host); VersionedPlugins negotiates the rest.
	ProtocolVersion:  protocolUnary,
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
	return versionedPlugins(nil)
}

// servedProtocols, when set (by -ldflags "-X
// github.com/heraldhq/herald/sdk.servedProtocols=1" only), limits the
// protocol versions a plugin built with this SDK serves: the host's tests
// build a plugin that speaks protocol 1 alone, as plugins built before
// protocol 2 do.
var servedProtocols string

// debugProtocols lists every protocol version the SDK speaks, as go-plugin
// reads them from PLUGIN_PROTOCOL_VERSIONS.
func debugProtocols() string {
	var vs []string
	for v := protocolUnary; v <= ProtocolVersion; v++ {
		vs = append(vs, strconv.Itoa(v))
	}
	return strings.Join(vs, ",")
}

// versionedPlugins returns the plugin set of every protocol version, serving
// srv (nil on the host side).
func versionedPlugins(srv *Server) map[int]plugin.PluginSet {
	sets := map[int]plugin.PluginSet{}
	for v := protocolUnary; v <= ProtocolVersion; v++ {
		if srv != nil && servedProtocols != "" && !strings.Contains(servedProtocols, strconv.Itoa(v)) {
			continue
		}
		sets[v] = plugin.PluginSet{PluginName: &grpcPlugin{server: srv, protocol: v}}
	}
	return sets
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
// as on the host side, and a pool of stream workers (one per CPU, however
// many processors the plugin runs on now: see governProcs) so a call is
// handed to a waiting goroutine instead of a new one.
func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts,
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(flowWindow), grpc.InitialConnWindowSize(flowWindow),
		grpc.NumStreamWorkers(uint32(runtime.NumCPU())),
	)
	return grpc.NewServer(opts...)
}

// grpcPlugin is the go-plugin glue: on the plugin side it serves a Server,
// on the host side it returns a Client.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server   *Server
	protocol int
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.server == nil {
		return errors.New("no provider to serve")
	}
	adapter := &grpcServerAdapter{srv: p.server}
	pluginpb.RegisterProviderServer(s, adapter)
	if p.protocol >= 2 {
		pluginpb.RegisterInvokeStreamServer(s, &streamServer{adapter: adapter})
	}
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	c := &grpcClient{rpc: pluginpb.NewProviderClient(conn)}
	if p.protocol >= 2 {
		c.stream = newStreamClient(pluginpb.NewInvokeStreamClient(conn))
	}
	return c, nil
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
	ctx, cancel := answerInTime(ctx)
	defer cancel()
	return a.invoke(ctx, req)
}

// invoke runs a call whose context already ends in time for its answer
// (see answerInTime).
func (a *grpcServerAdapter) invoke(ctx context.Context, req *pluginpb.InvokeRequest) (*pluginpb.InvokeResponse, error) {
	ex := &Exchange{}
	ctx = WithExchange(tracecontext.FromIncomingGRPC(ctx), ex)
	ir := invokeFromProto(req)
	out, err := a.srv.Invoke(ctx, &ir)
	if err != nil {
		return &pluginpb.InvokeResponse{Error: errorToProto(err), Request: ex.Request(), Response: ex.Response()}, nil
	}
	return &pluginpb.InvokeResponse{Output: out, Request: ex.Request(), Response: ex.Response()}, nil
}

func (a *grpcServerAdapter) Reconcile(ctx context.Context, req *pluginpb.ReconcileRequest) (*pluginpb.ReconcileResponse, error) {
	ex := &Exchange{}
	ctx = WithExchange(tracecontext.FromIncomingGRPC(ctx), ex)
	rec, err := a.srv.Reconcile(ctx, &ReconcileRequest{
		InvokeRequest: invokeFromProto(req.GetInvoke()),
		Since:         time.UnixMilli(req.SinceUnixMs),
	})
	if errors.Is(err, ErrNoReconcile) {
		// The same answer a plugin built before Reconcile gives.
		return nil, status.Error(codes.Unimplemented, err.Error())
	}
	if err != nil {
		return &pluginpb.ReconcileResponse{Error: errorToProto(err), Request: ex.Request(), Response: ex.Response()}, nil
	}
	out, _ := rec.Output.(json.RawMessage)
	return &pluginpb.ReconcileResponse{Status: reconcileStatusToProto[rec.Status], Output: out, Detail: rec.Detail, Request: ex.Request(), Response: ex.Response()}, nil
}

// answerInTime ends a call's context a little before the host's deadline,
// so a handler whose request is cut short by it still gets its classified
// error back to the host: retryable when nothing reached the provider,
// in_doubt when the request was written. Without the margin the host's
// deadline strikes first and it must count every such call in doubt. The
// margin is a fifth of the time left, at least 50 ms and at most a second.
func answerInTime(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, answerDeadline(deadline))
}

// answerDeadline returns when a handler's context ends for a call the host
// gives up on at deadline.
func answerDeadline(deadline time.Time) time.Time {
	margin := min(max(time.Until(deadline)/5, 50*time.Millisecond), time.Second)
	return deadline.Add(-margin)
}

func (a *grpcServerAdapter) HandleWebhook(ctx context.Context, req *pluginpb.WebhookRequest) (*pluginpb.WebhookResponse, error) {
	events, err := a.srv.HandleWebhook(tracecontext.FromIncomingGRPC(ctx), &WebhookRequest{
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
	// stream carries invokes under protocol 2; nil under protocol 1.
	stream *streamClient
}

var (
	_ Client     = (*grpcClient)(nil)
	_ Reconciler = (*grpcClient)(nil)
)

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
	preq := invokeToProto(req)
	var resp *pluginpb.InvokeResponse
	err := errStreamUnsupported
	if c.stream != nil {
		resp, err = c.stream.invoke(ctx, preq)
		if err != nil && err != errStreamUnsupported {
			// The plugin may have sent the request before the call broke.
			return nil, InDoubt(streamErr(ctx, "invoke "+req.Action, err))
		}
	}
	if err == errStreamUnsupported {
		if resp, err = c.rpc.Invoke(ctx, preq); err != nil {
			// The plugin may have sent the request before the call broke.
			return nil, InDoubt(transportErr(ctx, "invoke "+req.Action, err))
		}
	}
	if len(resp.Request) > 0 {
		ExchangeFrom(ctx).SetRaw(resp.Request, resp.Response)
	}
	if resp.Error != nil {
		return nil, errorFromProto(resp.Error)
	}
	return resp.Output, nil
}

// Reconcile asks the plugin's reconcile handler. A plugin built before the
// protocol had Reconcile answers codes.Unimplemented: that is ErrNoReconcile.
func (c *grpcClient) Reconcile(ctx context.Context, req *ReconcileRequest) (*Reconciliation, error) {
	resp, err := c.rpc.Reconcile(ctx, &pluginpb.ReconcileRequest{
		Invoke:      invokeToProto(&req.InvokeRequest),
		SinceUnixMs: req.Since.UnixMilli(),
	})
	if err != nil {
		if status.Code(err) == codes.Unimplemented && ctx.Err() == nil {
			return nil, Permanent(fmt.Errorf("%w: %s", ErrNoReconcile, status.Convert(err).Message()))
		}
		return nil, transportErr(ctx, "reconcile "+req.Action, err)
	}
	if len(resp.Request) > 0 {
		ExchangeFrom(ctx).SetRaw(resp.Request, resp.Response)
	}
	if resp.Error != nil {
		return nil, errorFromProto(resp.Error)
	}
	st, ok := reconcileStatusFromProto[resp.Status]
	if !ok {
		return nil, Permanent(fmt.Errorf("plugin reconcile %s: unknown status %v", req.Action, resp.Status))
	}
	rec := &Reconciliation{Status: st, Detail: resp.Detail}
	if len(resp.Output) > 0 {
		rec.Output = json.RawMessage(resp.Output)
	}
	return rec, nil
}

var reconcileStatusToProto = map[ReconcileStatus]pluginpb.ReconcileStatus{
	ReconcileFound:    pluginpb.ReconcileStatus_RECONCILE_STATUS_FOUND,
	ReconcileNotFound: pluginpb.ReconcileStatus_RECONCILE_STATUS_NOT_FOUND,
	ReconcileUnknown:  pluginpb.ReconcileStatus_RECONCILE_STATUS_UNKNOWN,
}

var reconcileStatusFromProto = map[pluginpb.ReconcileStatus]ReconcileStatus{
	pluginpb.ReconcileStatus_RECONCILE_STATUS_FOUND:     ReconcileFound,
	pluginpb.ReconcileStatus_RECONCILE_STATUS_NOT_FOUND: ReconcileNotFound,
	pluginpb.ReconcileStatus_RECONCILE_STATUS_UNKNOWN:   ReconcileUnknown,
}

func invokeToProto(req *InvokeRequest) *pluginpb.InvokeRequest {
	return &pluginpb.InvokeRequest{
		Instance:       req.Instance,
		Action:         req.Action,
		Input:          req.Input,
		ConfigOverride: req.ConfigOverride,
		BodyOverride:   req.BodyOverride,
		IdempotencyKey: req.IdempotencyKey,
		Attempt:        int32(req.Attempt),
		DryRun:         req.DryRun,
	}
}

func invokeFromProto(req *pluginpb.InvokeRequest) InvokeRequest {
	return InvokeRequest{
		Instance:       req.GetInstance(),
		Action:         req.GetAction(),
		Input:          req.GetInput(),
		ConfigOverride: req.GetConfigOverride(),
		BodyOverride:   req.GetBodyOverride(),
		IdempotencyKey: req.GetIdempotencyKey(),
		Attempt:        int(req.GetAttempt()),
		DryRun:         req.GetDryRun(),
	}
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

// streamErr classifies a streamed call that failed in the transport as
// transportErr does a unary one (same class, same message), and keeps the
// gRPC status in the error chain, where status.FromError finds it: that is
// how the host tells a broken stream from a provider's error.
func streamErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.DeadlineExceeded) {
		if ctxErr == nil {
			ctxErr = err
		}
		return Retryable(fmt.Errorf("plugin %s: %w", op, ctxErr))
	}
	return Retryable(fmt.Errorf("plugin %s: %w", op, statusError{status.Convert(err)}))
}

// statusError is a gRPC status that prints as its message alone.
type statusError struct{ st *status.Status }

func (e statusError) Error() string              { return e.st.Message() }
func (e statusError) GRPCStatus() *status.Status { return e.st }

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
	case ClassInDoubt:
		class = pluginpb.ErrorClass_ERROR_CLASS_IN_DOUBT
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
	case pluginpb.ErrorClass_ERROR_CLASS_IN_DOUBT:
		class = ClassInDoubt
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
	if resp.Limits, err = marshalOptional(spec.Limits); err != nil {
		return nil, err
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
		lim, err := marshalOptional(a.RecipientLimit)
		if err != nil {
			return nil, err
		}
		delivery, err := deliveryToProto(a.Delivery)
		if err != nil {
			return nil, err
		}
		resp.Actions = append(resp.Actions, &pluginpb.ActionSpec{Name: a.Name, Description: a.Description, InputSchema: in, OutputSchema: out,
			Reconcile: a.CanReconcile(), Delivery: delivery, Limits: lim})
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
	if len(resp.Limits) > 0 {
		spec.Limits = &Limits{}
		if err := json.Unmarshal(resp.Limits, spec.Limits); err != nil {
			return nil, fmt.Errorf("limits: %w", err)
		}
	}
	for _, a := range resp.Actions {
		act := Action{Name: a.Name, Description: a.Description, Reconciles: a.Reconcile}
		if err := unmarshalSchema(a.InputSchema, &act.Input); err != nil {
			return nil, fmt.Errorf("action %s input schema: %w", a.Name, err)
		}
		if err := unmarshalSchema(a.OutputSchema, &act.Output); err != nil {
			return nil, fmt.Errorf("action %s output schema: %w", a.Name, err)
		}
		if len(a.Limits) > 0 {
			act.RecipientLimit = &RecipientLimit{}
			if err := json.Unmarshal(a.Limits, act.RecipientLimit); err != nil {
				return nil, fmt.Errorf("action %s limits: %w", a.Name, err)
			}
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

// marshalOptional encodes v as JSON, or nothing when v is nil, so that a
// provider without limits sends what a protocol-1 plugin built before them
// sends.
func marshalOptional[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
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
