package sdk

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// TestReconcileOfAPluginBuiltBeforeIt serves a provider the way a plugin
// built against protocol 1 before Reconcile existed does: its service has no
// Reconcile method, and its describe no reconcile flag. The host reads the
// codes.Unimplemented answer as "no handler".
func TestReconcileOfAPluginBuiltBeforeIt(t *testing.T) {
	t.Parallel()
	desc := pluginpb.Provider_ServiceDesc
	desc.Methods = nil
	for _, m := range pluginpb.Provider_ServiceDesc.Methods {
		if m.MethodName != "Reconcile" {
			desc.Methods = append(desc.Methods, m)
		}
	}
	require.Len(t, desc.Methods, len(pluginpb.Provider_ServiceDesc.Methods)-1)
	client := serveService(t, &desc)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Configure(ctx, "main", json.RawMessage(`{}`)))
	_, err := client.Reconcile(ctx, &ReconcileRequest{InvokeRequest: InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{}`)}, Since: time.Now()})
	require.ErrorIs(t, err, ErrNoReconcile)
	require.Equal(t, ClassPermanent, AsError(err).Class)

	// The same plugin built with today's SDK does reconcile.
	client = serveService(t, &pluginpb.Provider_ServiceDesc)
	require.NoError(t, client.Configure(ctx, "main", json.RawMessage(`{}`)))
	rec, err := client.Reconcile(ctx, &ReconcileRequest{InvokeRequest: InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{}`)}, Since: time.Now()})
	require.NoError(t, err)
	require.Equal(t, ReconcileNotFound, rec.Status)
}

// serveService serves reconcilingProvider as the gRPC service desc and
// returns the host's client of it.
func serveService(t *testing.T, desc *grpc.ServiceDesc) *grpcClient {
	t.Helper()
	srv := grpc.NewServer()
	srv.RegisterService(desc, &grpcServerAdapter{srv: NewServer(reconcilingProvider{}, nil)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &grpcClient{rpc: pluginpb.NewProviderClient(conn)}
}

type reconcilingProvider struct{}

func (reconcilingProvider) Spec() *Spec {
	return &Spec{Type: "old", Version: "0.1.0", Actions: []Action{{
		Name:   "send",
		Output: Schema{AdditionalFields: true},
		Run:    func(context.Context, *Call) (any, error) { return map[string]any{}, nil },
		Reconcile: func(context.Context, *Call, time.Time) (Reconciliation, error) {
			return Reconciliation{Status: ReconcileNotFound}, nil
		},
	}}}
}
