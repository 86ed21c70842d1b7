package sdk

import (
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// echoOnly is a provider with one action that returns its input.
type echoOnly struct{}

func (echoOnly) Spec() *Spec {
	return &Spec{Type: "echo", Version: "1.0.0", Actions: []Action{{
		Name: "echo", Input: Schema{AdditionalFields: true}, Output: Schema{AdditionalFields: true},
		Run: func(_ context.Context, call *Call) (any, error) { return call.Input, nil },
	}}}
}

// A plugin that negotiated protocol 2 but serves no invoke stream (the
// service answers Unimplemented) gets its calls over unary Invoke: the
// streamed attempt never reached a handler, so sending it again is safe.
func TestCallsFallBackToUnaryWithoutAnInvokeStream(t *testing.T) {
	srv := NewServer(echoOnly{}, nil)
	require.NoError(t, srv.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	conn := serveRaw(t, func(gs *grpc.Server) {
		pluginpb.RegisterProviderServer(gs, &grpcServerAdapter{srv: srv}) // Provider only
	})

	c := &grpcClient{rpc: pluginpb.NewProviderClient(conn), stream: newStreamClient(pluginpb.NewInvokeStreamClient(conn))}
	for i := 0; i < 3; i++ {
		out, err := c.Invoke(context.Background(), &InvokeRequest{Instance: "main", Action: "echo", Input: json.RawMessage(`{"n":1}`), Attempt: 1})
		require.NoError(t, err)
		require.JSONEq(t, `{"n":1}`, string(out))
	}
	c.stream.mu.Lock()
	defer c.stream.mu.Unlock()
	require.True(t, c.stream.unsupported, "the client remembers that the plugin has no invoke stream")
}

// emptyResults answers every call with a frame that carries no response.
type emptyResults struct {
	pluginpb.UnimplementedInvokeStreamServer
}

func (emptyResults) Invokes(stream pluginpb.InvokeStream_InvokesServer) error {
	for {
		b, err := stream.Recv()
		if err != nil {
			return err
		}
		for _, f := range b.Frames {
			if err := stream.Send(&pluginpb.ResultBatch{Frames: []*pluginpb.ResultFrame{{Id: f.Id}}}); err != nil {
				return err
			}
		}
	}
}

// A result frame without a response is a broken plugin's answer: the call
// fails in doubt (the plugin may have run it) instead of crashing the host.
func TestResultWithoutResponseFailsTheCall(t *testing.T) {
	conn := serveRaw(t, func(gs *grpc.Server) { pluginpb.RegisterInvokeStreamServer(gs, emptyResults{}) })
	c := &grpcClient{rpc: pluginpb.NewProviderClient(conn), stream: newStreamClient(pluginpb.NewInvokeStreamClient(conn))}
	_, err := c.Invoke(context.Background(), &InvokeRequest{Instance: "main", Action: "echo", Input: json.RawMessage(`{}`), Attempt: 1})
	require.Error(t, err)
	require.Equal(t, ClassInDoubt, AsError(err).Class)
	require.Contains(t, err.Error(), "without a response")
}

// serveRaw serves the services register adds on loopback, without TLS, and
// returns a connection to them; both end with the test.
func serveRaw(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	register(gs)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
