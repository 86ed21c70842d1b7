package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// inlineProbe is a provider whose "block" action waits until its context
// ends and reports why on ended, "echo" returns its input and "headers"
// returns the names of the call's incoming metadata.
type inlineProbe struct{ ended chan error }

func (p inlineProbe) Spec() *Spec {
	return &Spec{Type: "inline", Version: "1.0.0", Actions: []Action{
		{
			Name: "block", Input: Fields(), Output: Schema{},
			Run: func(ctx context.Context, _ *Call) (any, error) {
				<-ctx.Done()
				p.ended <- ctx.Err()
				return nil, Retryable(ctx.Err())
			},
		},
		{
			Name: "echo", Input: Schema{AdditionalFields: true}, Output: Schema{AdditionalFields: true},
			Run: func(_ context.Context, call *Call) (any, error) { return call.Input, nil },
		},
		{
			Name: "headers", Input: Fields(), Output: Schema{AdditionalFields: true},
			Run: func(ctx context.Context, _ *Call) (any, error) {
				md, _ := metadata.FromIncomingContext(ctx)
				names := []string{}
				for k := range md {
					names = append(names, k)
				}
				return map[string]any{"names": names}, nil
			},
		},
	}}
}

// serveInline serves inlineProbe's invoke stream with the given inline
// budget and returns the stream client and the channel "block" reports on.
func serveInline(t *testing.T, budget time.Duration) (pluginpb.InvokeStreamClient, chan error) {
	t.Helper()
	ended := make(chan error, 1024)
	srv := NewServer(inlineProbe{ended: ended}, nil)
	require.NoError(t, srv.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	conn := serveRaw(t, func(gs *grpc.Server) {
		pluginpb.RegisterInvokeStreamServer(gs, &streamServer{adapter: &grpcServerAdapter{srv: srv}, inlineBudget: budget})
	})
	return pluginpb.NewInvokeStreamClient(conn), ended
}

func inlineCall(id uint64, action, input string) *pluginpb.CallFrame {
	return &pluginpb.CallFrame{Id: id, Request: &pluginpb.InvokeRequest{Instance: "main", Action: action, Input: []byte(input), Attempt: 1}}
}

// A call runs on the goroutine that received it; one that blocks is handed
// off after its budget, so the calls behind it on the stream, and the
// cancel frame for it, are still read. With an inline budget of an hour the
// calls behind would wait an hour.
func TestStreamBlockingInlineCallHandsReceivingOn(t *testing.T) {
	for _, budget := range []time.Duration{time.Nanosecond, defaultInlineBudget, 50 * time.Millisecond} {
		t.Run(budget.String(), func(t *testing.T) {
			rpc, ended := serveInline(t, budget)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := rpc.Invokes(ctx)
			require.NoError(t, err)
			// Ten blocking calls, each alone in its message: each is run
			// inline, then handed off.
			for id := uint64(1); id <= 10; id++ {
				require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{inlineCall(id, "block", `{}`)}}))
			}
			start := time.Now()
			require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{inlineCall(11, "echo", `{"n":11}`)}}))
			r, err := s.Recv()
			require.NoError(t, err, "the call behind ten blocking ones was not answered")
			require.Len(t, r.Frames, 1)
			require.Equal(t, uint64(11), r.Frames[0].Id)
			require.Less(t, time.Since(start), 10*time.Second)
			for id := uint64(1); id <= 10; id++ {
				require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{{Id: id, Cancel: true}}}))
			}
			for i := 0; i < 10; i++ {
				select {
				case err := <-ended:
					require.ErrorIs(t, err, context.Canceled)
				case <-time.After(20 * time.Second):
					t.Fatalf("%d of 10 cancel frames reached their calls", i)
				}
			}
			require.NoError(t, s.CloseSend())
			_, err = s.Recv()
			require.Error(t, err, "a cancelled call sends no result; the stream ends")
		})
	}
}

// Calls that end just as their budget runs out race the hand-off: with a
// budget about as long as a call, some are handed off as they end and some
// are not; every call must be answered once, and the stream must end
// cleanly, whichever goroutine is receiving.
func TestStreamHandOffRacesTheEndOfCalls(t *testing.T) {
	for _, budget := range []time.Duration{time.Nanosecond, 5 * time.Microsecond, 20 * time.Microsecond} {
		t.Run(budget.String(), func(t *testing.T) {
			rpc, _ := serveInline(t, budget)
			s, err := rpc.Invokes(context.Background())
			require.NoError(t, err)
			const n = 300
			var wg sync.WaitGroup
			wg.Add(1)
			answered := map[uint64]int{}
			go func() {
				defer wg.Done()
				for {
					b, err := s.Recv()
					if err != nil {
						return
					}
					for _, f := range b.Frames {
						answered[f.Id]++
						assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, f.Id), string(f.Response.GetOutput()))
					}
				}
			}()
			for id := uint64(1); id <= n; id++ {
				batch := &pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{inlineCall(id, "echo", fmt.Sprintf(`{"n":%d}`, id))}}
				if id%7 == 0 {
					// Some messages carry two calls: the first goes to a
					// worker, the second runs inline.
					id++
					batch.Frames = append(batch.Frames, inlineCall(id, "echo", fmt.Sprintf(`{"n":%d}`, id)))
				}
				require.NoError(t, s.Send(batch))
			}
			require.NoError(t, s.CloseSend())
			wg.Wait()
			// Every call was answered once (the last message may carry
			// call n+1).
			require.GreaterOrEqual(t, len(answered), n)
			for id, times := range answered {
				require.Equal(t, 1, times, "call %d", id)
			}
			for id := uint64(1); id <= n; id++ {
				require.Contains(t, answered, id)
			}
		})
	}
}

// When the connection goes while a call runs inline on the stream's own
// handler goroutine, the call is cancelled: calls are cancelled from the
// stream's table, not through the context tree.
func TestStreamEndCancelsTheInlineCall(t *testing.T) {
	rpc, ended := serveInline(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := rpc.Invokes(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{inlineCall(1, "block", `{}`)}}))
	// The call is running once an echo sent behind it would wait for it:
	// wait a little for the frame to arrive instead.
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-ended:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the stream ended and its inline call was not cancelled")
	}
}

// A streamed call's incoming metadata is its frame's: the stream's own
// headers (content type, user agent) are not the call's.
func TestStreamCallMetadataIsTheFramesOnly(t *testing.T) {
	rpc, _ := serveInline(t, 0)
	s, err := rpc.Invokes(context.Background())
	require.NoError(t, err)
	plain := inlineCall(1, "headers", `{}`)
	traced := inlineCall(2, "headers", `{}`)
	traced.Metadata = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	got := map[uint64]string{}
	for _, f := range []*pluginpb.CallFrame{plain, traced} {
		require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{f}}))
		r, err := s.Recv()
		require.NoError(t, err)
		got[r.Frames[0].Id] = string(r.Frames[0].Response.GetOutput())
	}
	require.JSONEq(t, `{"names":[]}`, got[1])
	require.JSONEq(t, `{"names":["traceparent"]}`, got[2])
}

// A cancel frame cancels the call it follows in the same message: the call
// held back to run inline is started before the cancel is read.
func TestStreamCancelInTheSameMessageAsItsCall(t *testing.T) {
	rpc, ended := serveInline(t, 0)
	s, err := rpc.Invokes(context.Background())
	require.NoError(t, err)
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{
		inlineCall(1, "block", `{}`), {Id: 1, Cancel: true}, inlineCall(2, "echo", `{"n":2}`),
	}}))
	select {
	case err := <-ended:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel frame after its call in one message did not cancel it")
	}
	r, err := s.Recv()
	require.NoError(t, err)
	require.Equal(t, uint64(2), r.Frames[0].Id)
}
