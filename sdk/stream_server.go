package sdk

import (
	"context"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// streamServer serves the Invokes stream of protocol 2 for a Server.
type streamServer struct {
	pluginpb.UnimplementedInvokeStreamServer
	adapter *grpcServerAdapter
}

// Invokes runs every call that arrives on the stream in a goroutine of its
// own, with its own context (the frame's deadline and metadata; cancelled by
// a cancel frame or when the stream ends), so that no call waits behind
// another and the stream is always read. Results go back as they finish,
// coalesced into one message when several are ready together. It returns
// once the stream has ended and every call has finished.
func (s *streamServer) Invokes(stream pluginpb.InvokeStream_InvokesServer) error {
	ctx := stream.Context()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		calls = map[uint64]context.CancelFunc{}
		pool  = newWorkers(workerIdle)
	)
	out := &batcher[*pluginpb.ResultFrame]{
		send: func(frames []*pluginpb.ResultFrame) error {
			return stream.Send(&pluginpb.ResultBatch{Frames: frames})
		},
		size: func(f *pluginpb.ResultFrame) int {
			if r := f.Response; r != nil {
				return 64 + len(r.Output) + len(r.Request) + len(r.Response)
			}
			return 16
		},
		failed: func(error) {},
	}
	run := func(f *pluginpb.CallFrame, cctx context.Context, cancel context.CancelFunc) {
		defer wg.Done()
		resp, _ := s.adapter.Invoke(cctx, f.Request)
		mu.Lock()
		_, live := calls[f.Id]
		delete(calls, f.Id)
		mu.Unlock()
		cancel()
		if live {
			_ = out.push(&pluginpb.ResultFrame{Id: f.Id, Response: resp})
		}
	}
	var err error
	for {
		var batch pluginpb.CallBatch
		if err = stream.RecvMsg(&batch); err != nil {
			break
		}
		for _, f := range batch.Frames {
			if f.Cancel {
				mu.Lock()
				cancel := calls[f.Id]
				delete(calls, f.Id)
				mu.Unlock()
				if cancel != nil {
					cancel()
				}
				continue
			}
			if f.Request == nil {
				continue
			}
			cctx, cancel := callContext(ctx, f)
			mu.Lock()
			calls[f.Id] = cancel
			mu.Unlock()
			wg.Add(1)
			pool.run(func() { run(f, cctx, cancel) })
		}
	}
	// The host closed the stream or the connection is gone: calls still
	// running are cancelled with the stream's context.
	wg.Wait()
	pool.close()
	if err == io.EOF {
		return nil
	}
	return err
}

// callContext derives the context of one streamed call from the stream's.
func callContext(ctx context.Context, f *pluginpb.CallFrame) (context.Context, context.CancelFunc) {
	if len(f.Metadata) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.New(f.Metadata))
	}
	if f.TimeoutNs > 0 {
		return context.WithTimeout(ctx, time.Duration(f.TimeoutNs))
	}
	return context.WithCancel(ctx)
}

// workerIdle is how long a call worker waits for another call before it
// exits.
const workerIdle = 10 * time.Second

// workers runs calls on long-lived goroutines: a call handed to an idle
// worker runs on a stack already grown by earlier calls, where a new
// goroutine per call would grow its stack again (copying it, several times
// per call in JSON decoding: measured as a tenth of the plugin's CPU on a
// no-op call). There is always a worker for a call: when none is idle, a
// new one starts, so no call waits behind another.
type workers struct {
	idle time.Duration
	jobs chan func()
	done chan struct{}
}

func newWorkers(idle time.Duration) *workers {
	return &workers{idle: idle, jobs: make(chan func()), done: make(chan struct{})}
}

// run runs job on an idle worker, or on a new one.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.work(job)
	}
}

// close makes idle workers exit.
func (w *workers) close() { close(w.done) }

func (w *workers) work(job func()) {
	t := time.NewTimer(w.idle)
	defer t.Stop()
	for {
		job()
		t.Reset(w.idle)
		select {
		case job = <-w.jobs:
		case <-t.C:
			return
		case <-w.done:
			return
		}
	}
}
