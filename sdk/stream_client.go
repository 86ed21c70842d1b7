package sdk

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// MaxStreamInFlight bounds the calls in flight on one plugin connection's
// invoke stream. A call beyond it waits, within its own deadline, for one to
// finish: backpressure on the host instead of an unbounded pile of
// goroutines in the plugin.
const MaxStreamInFlight = 1024

// errStreamUnsupported reports that the plugin does not serve the invoke
// stream although it negotiated protocol 2; the call was not delivered and
// goes over unary Invoke instead.
var errStreamUnsupported = errors.New("plugin does not serve the invoke stream")

// streamClient sends invokes over the Invokes stream of one plugin
// connection. The stream is opened by the first call and opened again by the
// first call after it broke.
type streamClient struct {
	rpc   pluginpb.InvokeStreamClient
	slots chan struct{}

	mu          sync.Mutex
	cur         *callStream
	unsupported bool
}

func newStreamClient(rpc pluginpb.InvokeStreamClient) *streamClient {
	return &streamClient{rpc: rpc, slots: make(chan struct{}, MaxStreamInFlight)}
}

// callStream is one open Invokes stream and the calls waiting on it.
type callStream struct {
	client *streamClient
	stream pluginpb.InvokeStream_InvokesClient
	cancel context.CancelFunc
	out    batcher[*pluginpb.CallFrame]

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *pluginpb.InvokeResponse
	err     error // why the stream ended; set once
}

// invoke runs one call over the stream. It returns errStreamUnsupported when
// the call must go over unary Invoke instead; any other error is a gRPC
// status (or ctx's error) for transportErr to classify.
func (c *streamClient) invoke(ctx context.Context, req *pluginpb.InvokeRequest) (*pluginpb.InvokeResponse, error) {
	select {
	case c.slots <- struct{}{}:
	default:
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() { <-c.slots }()
	s, err := c.open()
	if err != nil {
		return nil, err
	}
	frame := &pluginpb.CallFrame{Request: req}
	if d, ok := ctx.Deadline(); ok {
		timeout := time.Until(d)
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
		frame.TimeoutNs = int64(timeout)
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md) > 0 {
		frame.Metadata = make(map[string]string, len(md))
		for k, v := range md {
			// Binary ("-bin") values would not be valid proto strings.
			if len(v) > 0 && !strings.HasSuffix(k, "-bin") {
				frame.Metadata[k] = v[len(v)-1]
			}
		}
	}
	ch, err := s.register(frame)
	if err != nil {
		return nil, err
	}
	// A failed push means the stream broke: its receiver then ends every
	// pending call, this one too, with the stream's error.
	_ = s.out.push(frame)
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, s.failure()
		}
		putResultChan(ch)
		if resp == nil {
			return nil, status.Error(codes.Internal, "plugin ended the call without a response")
		}
		return resp, nil
	case <-ctx.Done():
		if s.unregister(frame.Id) {
			_ = s.out.push(&pluginpb.CallFrame{Id: frame.Id, Cancel: true})
		}
		return nil, ctx.Err()
	}
}

// open returns the stream, opening it if there is none.
func (c *streamClient) open() (*callStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unsupported {
		return nil, errStreamUnsupported
	}
	if c.cur != nil {
		return c.cur, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.rpc.Invokes(ctx)
	if err != nil {
		cancel()
		if status.Code(err) == codes.Unimplemented {
			c.unsupported = true
			return nil, errStreamUnsupported
		}
		return nil, err
	}
	s := &callStream{client: c, stream: stream, cancel: cancel, pending: map[uint64]chan *pluginpb.InvokeResponse{}}
	var sent pluginpb.CallBatch
	s.out = batcher[*pluginpb.CallFrame]{
		send: func(frames []*pluginpb.CallFrame) error {
			// One send at a time, and Send has encoded the message when it
			// returns: the batch message is reused.
			sent.Frames = frames
			err := stream.Send(&sent)
			sent.Frames = nil
			return err
		},
		size: func(f *pluginpb.CallFrame) int {
			if r := f.Request; r != nil {
				return 64 + len(r.Input) + len(r.ConfigOverride) + len(r.BodyOverride)
			}
			return 16
		},
		// A failed Send means the stream is done; Recv reports why.
		failed: func(error) { cancel() },
	}
	c.cur = s
	go s.receive()
	return s, nil
}

// register gives frame an id and returns the channel its result arrives on.
func (s *callStream) register(frame *pluginpb.CallFrame) (chan *pluginpb.InvokeResponse, error) {
	ch := getResultChan()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	s.nextID++
	frame.Id = s.nextID
	s.pending[frame.Id] = ch
	return ch, nil
}

// unregister forgets call id; it reports false when the call already ended.
func (s *callStream) unregister(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pending[id]
	delete(s.pending, id)
	return ok
}

// failure returns why the stream ended.
func (s *callStream) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// receive delivers results to their calls until the stream ends, then ends
// every pending call with the stream's error.
func (s *callStream) receive() {
	var batch pluginpb.ResultBatch
	for {
		err := s.stream.RecvMsg(&batch)
		if err != nil {
			s.end(err)
			return
		}
		s.mu.Lock()
		for _, f := range batch.Frames {
			if ch, ok := s.pending[f.Id]; ok {
				delete(s.pending, f.Id)
				ch <- f.Response
			}
		}
		s.mu.Unlock()
	}
}

// end records why the stream ended, takes it out of service and fails the
// calls waiting on it.
func (s *callStream) end(err error) {
	if status.Code(err) == codes.Unimplemented {
		err = errStreamUnsupported
	} else if _, ok := status.FromError(err); !ok {
		err = status.Error(codes.Unavailable, err.Error())
	}
	c := s.client
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
	}
	if err == errStreamUnsupported {
		c.unsupported = true
	}
	c.mu.Unlock()
	s.cancel()
	s.mu.Lock()
	s.err = err
	for id, ch := range s.pending {
		delete(s.pending, id)
		close(ch)
	}
	s.mu.Unlock()
}

// resultChans recycles the one-slot channels calls wait on. A channel goes
// back only after its result was read, so a recycled channel is empty.
var resultChans = sync.Pool{New: func() any { return make(chan *pluginpb.InvokeResponse, 1) }}

func getResultChan() chan *pluginpb.InvokeResponse {
	return resultChans.Get().(chan *pluginpb.InvokeResponse)
}

func putResultChan(ch chan *pluginpb.InvokeResponse) { resultChans.Put(ch) }
