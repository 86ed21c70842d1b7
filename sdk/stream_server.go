package sdk

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// streamServer serves the Invokes stream of protocol 2 for a Server.
type streamServer struct {
	pluginpb.UnimplementedInvokeStreamServer
	adapter *grpcServerAdapter
	// inlineBudget is how long a call may run on the goroutine that
	// received it before another goroutine takes over receiving;
	// defaultInlineBudget when zero.
	inlineBudget time.Duration
}

// defaultInlineBudget is how long a call runs on the stream's receiving
// goroutine before the stream is read by another: long enough for a call
// that needs no I/O (a no-op echo takes about 20 µs), short enough that a
// call arriving behind a slow one waits for at most this long before it is
// read.
const defaultInlineBudget = 200 * time.Microsecond

// Receiver states of an invokeLoop, for its handoff.
const (
	// receiving: the current receiver reads the stream.
	receiving int32 = iota
	// runningInline: the current receiver runs a call itself and does not
	// read the stream.
	runningInline
	// handedOff: the call ran over its budget and another goroutine took
	// over reading the stream.
	handedOff
)

// invokeLoop is the state of one Invokes stream on the plugin's side.
//
// One goroutine at a time, the receiver, reads the stream. It runs the last
// call of each message it receives itself, with no hand-off to another
// goroutine (the others of a batch go to call workers); a timer armed for
// the call's budget hands the receiving on to a worker when the call is
// still running then, so a slow call holds up the calls behind it on the
// stream for at most the budget, and a cancel frame for the slow call
// itself is read. The receiver that finds its call overtaken returns to
// being a worker.
type invokeLoop struct {
	srv    *streamServer
	stream pluginpb.InvokeStream_InvokesServer
	ctx    context.Context
	// bare is ctx with empty incoming metadata (see callContext).
	bare context.Context
	out  *batcher[*pluginpb.ResultFrame]
	pool *workers

	// wg counts the calls running.
	wg    sync.WaitGroup
	mu    sync.Mutex
	calls map[uint64]context.CancelFunc

	// state is the receiver's: receiving, runningInline or handedOff.
	state atomic.Int32
	// watch fires when an inline call runs over its budget.
	watch *time.Timer
	// done is closed, after err is set, when the stream has ended.
	done chan struct{}
	err  error
}

// Invokes runs every call that arrives on the stream with its own context
// (the frame's deadline and metadata; cancelled by a cancel frame or when
// the stream ends), so that no call waits behind another for longer than
// the inline budget and the stream is always read. Results go back as they
// finish, coalesced into one message when several are ready together. It
// returns once the stream has ended and every call has finished.
func (s *streamServer) Invokes(stream pluginpb.InvokeStream_InvokesServer) error {
	l := &invokeLoop{
		srv:    s,
		stream: stream,
		// Calls are cancelled from l.calls when the stream ends, not
		// through the context tree: a call's context derived from the
		// stream's would register with it, a map write and a delete
		// under a lock for every call.
		ctx:   context.WithoutCancel(stream.Context()),
		calls: map[uint64]context.CancelFunc{},
		pool:  newWorkers(workerIdle),
		done:  make(chan struct{}),
	}
	l.bare = metadata.NewIncomingContext(l.ctx, noMetadata)
	var sent pluginpb.ResultBatch
	l.out = &batcher[*pluginpb.ResultFrame]{
		send: func(frames []*pluginpb.ResultFrame) error {
			// One send at a time, and Send has encoded the message when it
			// returns: the batch message is reused.
			sent.Frames = frames
			err := stream.Send(&sent)
			sent.Frames = nil
			return err
		},
		size: func(f *pluginpb.ResultFrame) int {
			if r := f.Response; r != nil {
				return 64 + len(r.Output) + len(r.Request) + len(r.Response)
			}
			return 16
		},
		failed: func(error) {},
	}
	// The connection is gone, or Invokes returned: calls still running
	// are cancelled.
	context.AfterFunc(stream.Context(), l.cancelAll)
	l.watch = time.AfterFunc(time.Hour, l.handOff)
	l.watch.Stop()
	l.receive()
	// The stream may have ended on another receiver after this goroutine
	// handed receiving on.
	<-l.done
	l.watch.Stop()
	// The host closed its side of the stream: the calls still running
	// finish and send their results.
	l.wg.Wait()
	l.pool.close()
	if l.err == io.EOF {
		return nil
	}
	return l.err
}

// receive reads the stream until it ends (then closes l.done) or until
// receiving is handed to another goroutine while this one runs a call.
func (l *invokeLoop) receive() {
	for {
		batch := new(pluginpb.CallBatch)
		if err := l.stream.RecvMsg(batch); err != nil {
			l.err = err
			if err != io.EOF {
				// The stream broke: no result could reach the host.
				l.cancelAll()
			}
			close(l.done)
			return
		}
		callActivity.note()
		var last *pluginpb.CallFrame
		for _, f := range batch.Frames {
			if f.Cancel {
				// The call held back to run inline may be the one
				// cancelled: it starts first, as frames are ordered.
				if last != nil {
					l.start(last, false)
					last = nil
				}
				l.cancel(f.Id)
				continue
			}
			if f.Request == nil {
				continue
			}
			if last != nil {
				l.start(last, false)
			}
			last = f
		}
		if last != nil && !l.start(last, true) {
			return
		}
	}
}

// start registers call f and runs it, on this goroutine when inline. Run
// inline, it reports whether this goroutine is still the receiver.
func (l *invokeLoop) start(f *pluginpb.CallFrame, inline bool) bool {
	cctx, cancel := callContext(l.ctx, l.bare, f)
	l.mu.Lock()
	l.calls[f.Id] = cancel
	l.mu.Unlock()
	l.wg.Add(1)
	if !inline {
		l.pool.run(func() { l.run(f, cctx, cancel) })
		return true
	}
	budget := l.srv.inlineBudget
	if budget <= 0 {
		budget = defaultInlineBudget
	}
	l.state.Store(runningInline)
	l.watch.Reset(budget)
	l.run(f, cctx, cancel)
	l.watch.Stop()
	return l.state.CompareAndSwap(runningInline, receiving)
}

// handOff runs when an inline call is over its budget: if the receiver is
// still running it, a worker takes over receiving. A late firing, for a call
// that has already ended, finds the receiver reading and does nothing; one
// that finds the next inline call running hands off early, which is safe.
func (l *invokeLoop) handOff() {
	if l.state.CompareAndSwap(runningInline, handedOff) {
		l.pool.run(l.receive)
	}
}

// run runs call f and sends its result, unless the call was cancelled.
func (l *invokeLoop) run(f *pluginpb.CallFrame, ctx context.Context, cancel context.CancelFunc) {
	defer l.wg.Done()
	resp, _ := l.srv.adapter.invoke(ctx, f.Request)
	l.mu.Lock()
	_, live := l.calls[f.Id]
	delete(l.calls, f.Id)
	l.mu.Unlock()
	cancel()
	if live {
		_ = l.out.push(&pluginpb.ResultFrame{Id: f.Id, Response: resp})
	}
}

// cancel cancels call id, if it is running.
func (l *invokeLoop) cancel(id uint64) {
	l.mu.Lock()
	cancel := l.calls[id]
	delete(l.calls, id)
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancelAll cancels every call still running.
func (l *invokeLoop) cancelAll() {
	l.mu.Lock()
	calls := l.calls
	l.calls = map[uint64]context.CancelFunc{}
	l.mu.Unlock()
	for _, cancel := range calls {
		cancel()
	}
}

// callContext derives the context of one streamed call from the stream's.
// Its incoming metadata is the frame's alone: the stream's own headers
// (content type, user agent) say nothing about the call, and copying them
// for every call that reads its metadata would cost more than the call. A
// call with a timeout ends in time for its answer, as answerInTime makes a
// unary call's: one deadline, one timer.
//
// bare is ctx with noMetadata as its incoming metadata, made once per
// stream: a frame without metadata derives from it without a context of
// its own.
func callContext(ctx, bare context.Context, f *pluginpb.CallFrame) (context.Context, context.CancelFunc) {
	if len(f.Metadata) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.New(f.Metadata))
	} else {
		ctx = bare
	}
	if f.TimeoutNs > 0 {
		return context.WithDeadline(ctx, answerDeadline(time.Now().Add(time.Duration(f.TimeoutNs))))
	}
	return context.WithCancel(ctx)
}

// noMetadata is the incoming metadata of a call whose frame has none,
// shared by every such call: grpc's metadata functions hand out copies, never
// the map itself, so no call can change it.
var noMetadata = metadata.MD{}

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
