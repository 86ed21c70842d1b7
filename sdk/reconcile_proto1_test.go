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
	srv := grpc.NewServer()
	p := reconcilingProvider{}
	srv.RegisterService(&desc, &grpcServerAdapter{srv: NewServer(p, nil)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := &grpcClient{rpc: pluginpb.NewProviderClient(conn)}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Configure(ctx, "main", json.RawMessage(`{}`)))
	_, err = client.Reconcile(ctx, &ReconcileRequest{InvokeRequest: InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{}`)}, Since: time.Now()})
	require.ErrorIs(t, err, ErrNoReconcile)
	require.Equal(t, ClassPermanent, AsError(err).Class)

	// The same plugin built with today's SDK does reconcile.
	desc = pluginpb.Provider_ServiceDesc
	srv2 := grpc.NewServer()
	srv2.RegisterService(&desc, &grpcServerAdapter{srv: NewServer(p, nil)})
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv2.Serve(ln2) }()
	t.Cleanup(srv2.Stop)
	conn2, err := grpc.NewClient(ln2.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn2.Close() })
	client = &grpcClient{rpc: pluginpb.NewProviderClient(conn2)}
	require.NoError(t, client.Configure(ctx, "main", json.RawMessage(`{}`)))
	rec, err := client.Reconcile(ctx, &ReconcileRequest{InvokeRequest: InvokeRequest{Instance: "main", Action: "send", Input: json.RawMessage(`{}`)}, Since: time.Now()})
	require.NoError(t, err)
	require.Equal(t, ReconcileNotFound, rec.Status)
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
