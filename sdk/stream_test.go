package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/pluginpb"
	"github.com/heraldhq/herald/sdk"
)

// streamProbe is a provider whose actions show what a streamed call's
// context carries: "wait" blocks until the context ends and reports why on
// ended, "meta" returns the call's incoming gRPC metadata, "echo" returns
// its input.
type streamProbe struct{ ended chan error }

func (p streamProbe) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "probe",
		Version: "0.1.0",
		Actions: []sdk.Action{
			{
				Name: "wait", Input: sdk.Fields(), Output: sdk.Schema{},
				Run: func(ctx context.Context, _ *sdk.Call) (any, error) {
					<-ctx.Done()
					p.ended <- ctx.Err()
					return nil, sdk.Retryable(ctx.Err())
				},
			},
			{
				Name: "meta", Input: sdk.Fields(), Output: sdk.Schema{AdditionalFields: true},
				Run: func(ctx context.Context, _ *sdk.Call) (any, error) {
					md, _ := metadata.FromIncomingContext(ctx)
					return map[string]any{"traceparent": md.Get("traceparent")}, nil
				},
			},
			{
				Name: "echo", Input: sdk.Schema{AdditionalFields: true}, Output: sdk.Schema{AdditionalFields: true},
				Run: func(_ context.Context, call *sdk.Call) (any, error) { return call.Input, nil },
			},
		},
	}
}

// serveProbe serves a streamProbe over the real gRPC transport in-process
// and returns the raw invoke stream client and the sdk.Client of the
// connection.
// Tests using it do not run in parallel: it swaps hclog's default output.
func serveProbe(t testing.TB) (pluginpb.InvokeStreamClient, sdk.Client, chan error) {
	t.Helper()
	hclogOut := hclog.DefaultOutput
	hclog.DefaultOutput = io.Discard
	t.Cleanup(func() { hclog.DefaultOutput = hclogOut })
	ended := make(chan error, 64)
	srv := sdk.NewServer(streamProbe{ended: ended}, nil)
	require.NoError(t, srv.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(srv))
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	require.NoError(t, err)
	return pluginpb.NewInvokeStreamClient(client.Conn), raw.(sdk.Client), ended
}

func call(id uint64, action, input string) *pluginpb.CallFrame {
	return &pluginpb.CallFrame{Id: id, Request: &pluginpb.InvokeRequest{Instance: "main", Action: action, Input: []byte(input), Attempt: 1}}
}

func recvResult(t *testing.T, s pluginpb.InvokeStream_InvokesClient) *pluginpb.ResultFrame {
	t.Helper()
	type res struct {
		b   *pluginpb.ResultBatch
		err error
	}
	ch := make(chan res, 1)
	go func() { b, err := s.Recv(); ch <- res{b, err} }()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		require.Len(t, r.b.Frames, 1)
		return r.b.Frames[0]
	case <-time.After(20 * time.Second):
		t.Fatal("no result on the stream")
		return nil
	}
}

// sendAndClose sends batch, closes the host's side of the stream and
// returns every result frame the plugin sends before it ends the stream.
func sendAndClose(t *testing.T, s pluginpb.InvokeStream_InvokesClient, batch *pluginpb.CallBatch) []*pluginpb.ResultFrame {
	t.Helper()
	require.NoError(t, s.Send(batch))
	require.NoError(t, s.CloseSend())
	var frames []*pluginpb.ResultFrame
	for {
		b, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return frames
		}
		require.NoError(t, err)
		frames = append(frames, b.Frames...)
	}
}

func TestStreamResultsReturnOutOfOrderAndCancelFramesCancel(t *testing.T) {
	rpc, _, ended := serveProbe(t)
	s, err := rpc.Invokes(context.Background())
	require.NoError(t, err)
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{call(1, "wait", `{}`)}}))
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{call(2, "echo", `{"n":2}`)}}))
	// Call 2 answers while call 1 is still running.
	r := recvResult(t, s)
	require.Equal(t, uint64(2), r.Id)
	require.JSONEq(t, `{"n":2}`, string(r.Response.Output))

	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{{Id: 1, Cancel: true}}}))
	select {
	case err := <-ended:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel frame did not cancel the call's context")
	}
	// A cancelled call sends no result: the next result is the next call's.
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{call(3, "echo", `{"n":3}`)}}))
	require.Equal(t, uint64(3), recvResult(t, s).Id)
}

func TestStreamFrameTimeoutIsTheCallsDeadline(t *testing.T) {
	rpc, _, ended := serveProbe(t)
	s, err := rpc.Invokes(context.Background())
	require.NoError(t, err)
	f := call(7, "wait", `{}`)
	f.TimeoutNs = int64(100 * time.Millisecond)
	start := time.Now()
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{f}}))
	select {
	case err := <-ended:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(20 * time.Second):
		t.Fatal("the frame's timeout did not end the call")
	}
	r := recvResult(t, s)
	require.Equal(t, uint64(7), r.Id)
	require.Equal(t, pluginpb.ErrorClass_ERROR_CLASS_RETRYABLE, r.Response.Error.GetClass())
	// The handler answers a little before the frame's deadline (the SDK's
	// answer margin, at least 50 ms), so its own error reaches the host.
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestStreamBatchOfCalls(t *testing.T) {
	rpc, _, _ := serveProbe(t)
	s, err := rpc.Invokes(context.Background())
	require.NoError(t, err)
	batch := &pluginpb.CallBatch{}
	for i := 1; i <= 50; i++ {
		batch.Frames = append(batch.Frames, call(uint64(i), "echo", fmt.Sprintf(`{"n":%d}`, i)))
	}
	seen := map[uint64]bool{}
	for _, f := range sendAndClose(t, s, batch) {
		require.False(t, seen[f.Id], "call %d answered twice", f.Id)
		seen[f.Id] = true
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, f.Id), string(f.Response.Output))
	}
	require.Len(t, seen, 50, "every call of the batch is answered before the stream ends")
}

func TestStreamCarriesPerCallMetadata(t *testing.T) {
	_, c, _ := serveProbe(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", tp)
	out, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "meta", Input: json.RawMessage(`{}`), Attempt: 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"traceparent":["`+tp+`"]}`, string(out))
}

func TestStreamedCallHonoursTheCallersDeadline(t *testing.T) {
	_, c, ended := serveProbe(t)
	// 5 s: the handler's margin is then a full second (a fifth of the
	// time left, at most 1 s), which a loaded machine's stall does not
	// swallow as it did the 50 ms margin of a 100 ms deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Invoke(ctx, &sdk.InvokeRequest{Instance: "main", Action: "wait", Input: json.RawMessage(`{}`), Attempt: 1})
	// The plugin's handler ends a margin before the caller's deadline and
	// answers with its own (retryable) error, which names the deadline.
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class)
	require.ErrorContains(t, err, "deadline exceeded")
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the call's deadline did not reach the provider")
	}
}

// FuzzStreamFrames sends arbitrary call batches (ids repeated or unknown,
// cancel frames, timeouts, requests for missing actions) to the stream
// server: it must answer every call it was asked once at most, and end the
// stream cleanly when the host closes its side.
func FuzzStreamFrames(f *testing.F) {
	seed := &pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{call(1, "echo", `{"a":1}`), {Id: 1, Cancel: true}, call(2, "nosuch", `{}`), {Id: 9, TimeoutNs: 5}}}
	b, _ := proto.Marshal(seed)
	f.Add(b)
	f.Add([]byte{})
	rpc, _, _ := serveProbe(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch pluginpb.CallBatch
		if proto.Unmarshal(data, &batch) != nil {
			return
		}
		asked := map[uint64]int{}
		for _, fr := range batch.Frames {
			// "wait" never ends without a deadline or cancel; leave it out.
			if fr.Request != nil && fr.Request.Action == "wait" {
				fr.Request.Action = "echo"
			}
			if fr.Request != nil && !fr.Cancel {
				asked[fr.Id]++
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := rpc.Invokes(ctx)
		require.NoError(t, err)
		answered := map[uint64]int{}
		for _, fr := range sendAndClose(t, s, &batch) {
			answered[fr.Id]++
			require.NotNil(t, fr.Response)
		}
		for id, n := range answered {
			require.LessOrEqual(t, n, asked[id], "call %d", id)
		}
	})
}

// TestStreamManyConcurrentCallers sends calls from many goroutines at once,
// so frames queue behind sends in progress and travel in batches both ways;
// every caller must get its own result.
func TestStreamManyConcurrentCallers(t *testing.T) {
	_, c, _ := serveProbe(t)
	const callers, calls = 64, 20
	errs := make(chan error, callers)
	for g := 0; g < callers; g++ {
		go func() {
			for i := 0; i < calls; i++ {
				in := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				out, err := c.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "echo", Input: json.RawMessage(in), Attempt: 1})
				if err == nil && string(out) != in {
					err = fmt.Errorf("call %s got %s", in, out)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < callers; g++ {
		require.NoError(t, <-errs)
	}
}
