package sdk

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald/internal/pluginpb"
)

// TestProcGovernor drives the processor governor through a plugin's life:
// idle on one processor, a burst that takes every processor within one
// sample, a load in the band between calm and busy that switches nothing,
// and a return to one processor only after a calm spell.
func TestProcGovernor(t *testing.T) {
	t.Parallel()
	g := &procGovernor{max: 4, cur: 1}
	sample := func(cores float64) int {
		return g.next(time.Duration(cores*float64(procsSampleEvery)), procsSampleEvery)
	}
	for i := range 50 {
		if n := sample(0.05); n != 1 {
			t.Fatalf("idle sample %d: %d processors, want 1", i, n)
		}
	}
	// Just under busy stays on one processor.
	if n := sample(procsBusy - 0.01); n != 1 {
		t.Fatalf("sample at %.2f cores: %d processors, want 1", procsBusy-0.01, n)
	}
	if n := sample(0.95); n != 4 {
		t.Fatalf("busy sample: %d processors, want 4", n)
	}
	// Between calm and busy: stays on every processor.
	for i := range 3 * procsCalmFor {
		if n := sample((procsCalm + procsBusy) / 2); n != 4 {
			t.Fatalf("steady sample %d: %d processors, want 4", i, n)
		}
	}
	// Calm, but broken by one busier sample before the spell is complete.
	for i := range procsCalmFor - 1 {
		if n := sample(0.1); n != 4 {
			t.Fatalf("calm sample %d: %d processors, want 4", i, n)
		}
	}
	if n := sample(0.5); n != 4 {
		t.Fatalf("sample after a short calm: %d processors, want 4", n)
	}
	for i := range procsCalmFor - 1 {
		if n := sample(0.1); n != 4 {
			t.Fatalf("calm sample %d of the second spell: %d processors, want 4", i, n)
		}
	}
	if n := sample(0.1); n != 1 {
		t.Fatalf("after %d calm samples: %d processors, want 1", procsCalmFor, n)
	}
	// A sample over no time changes nothing.
	if n := g.next(time.Second, 0); n != 1 {
		t.Fatalf("empty sample: %d processors, want 1", n)
	}
	// And busy again takes every processor again.
	if n := sample(1.2); n != 4 {
		t.Fatalf("second burst: %d processors, want 4", n)
	}
}

// TestProcGovernorWatch runs the governor's sampling loop on a fake CPU
// clock: a process as busy as one core gets every processor at the next
// sample, and an idle one returns to one processor after procsCalmFor
// samples; the count set applies (here, a runtime default of 3 instead of
// 4) becomes the governor's max.
func TestProcGovernorWatch(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var busy atomic.Bool
	busy.Store(true)
	var idleSince atomic.Int64
	cpu := func() time.Duration {
		if busy.Load() {
			// As much CPU as wall time: one whole core.
			return time.Since(start)
		}
		return time.Duration(idleSince.Load())
	}
	sets := make(chan int, 16)
	set := func(n, max int) int {
		if n == max {
			n = 3
		}
		sets <- n
		return n
	}
	g := &procGovernor{max: 4, cur: 1}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.watch(20*time.Millisecond, time.Hour, cpu, set, newProcActivity(), stop)
	}()
	select {
	case n := <-sets:
		if n != 3 {
			t.Fatalf("busy: set %d processors, want 3", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("busy: no processors set")
	}
	idleSince.Store(int64(time.Since(start)))
	busy.Store(false)
	calmFrom := time.Now()
	select {
	case n := <-sets:
		if n != 1 {
			t.Fatalf("idle: set %d processors, want 1", n)
		}
		// Ten samples of 20 ms; half of it leaves room for ticks that a
		// slow test goroutine finds already due.
		if d := time.Since(calmFrom); d < procsCalmFor/2*20*time.Millisecond {
			t.Fatalf("idle: back to one processor after %v, before %d samples", d, procsCalmFor)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idle: no return to one processor")
	}
	close(stop)
	<-done
	if g.max != 3 || g.cur != 1 {
		t.Fatalf("governor max %d, cur %d; want 3, 1", g.max, g.cur)
	}
}

// fakeProcess is a CPU clock for the governor's loop: idle (its CPU time
// stands still) or as busy as one core, counting the samples read.
type fakeProcess struct {
	start   time.Time
	busy    atomic.Bool
	at      atomic.Int64 // CPU time when it last went idle
	samples atomic.Int64
}

func newFakeProcess() *fakeProcess { return &fakeProcess{start: time.Now()} }

func (p *fakeProcess) cpu() time.Duration {
	p.samples.Add(1)
	if p.busy.Load() {
		return time.Since(p.start) - time.Duration(p.at.Load())
	}
	return time.Duration(p.at.Load())
}

// setBusy makes the process use a whole core from now on.
func (p *fakeProcess) setBusy() {
	p.at.Store(int64(time.Since(p.start)) - p.at.Load())
	p.busy.Store(true)
}

// runGovernor runs a governor on one of four processors over p, sampling
// every 5 ms and, parked, every parkedEvery; sets receives each processor
// count it sets.
func runGovernor(t *testing.T, p *fakeProcess, act *procActivity, parkedEvery time.Duration) (sets chan int) {
	t.Helper()
	sets = make(chan int, 16)
	set := func(n, _ int) int { sets <- n; return n }
	g := &procGovernor{max: 4, cur: 1}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.watch(5*time.Millisecond, parkedEvery, p.cpu, set, act, stop)
	}()
	t.Cleanup(func() { close(stop); <-done })
	return sets
}

// An idle plugin's governor stops sampling (it sampled 20 times a 100 ms
// before it parked), and a call wakes it: a burst that comes with calls
// gets every processor at the first sample after them, as it did when the
// governor never parked.
func TestProcGovernorParksWhileIdle(t *testing.T) {
	t.Parallel()
	p := newFakeProcess()
	act := newProcActivity()
	sets := runGovernor(t, p, act, time.Hour)
	for deadline := time.Now().Add(10 * time.Second); !act.parked.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("idle: governor not parked after %d samples", p.samples.Load())
		}
	}
	before := p.samples.Load()
	time.Sleep(100 * time.Millisecond)
	if n := p.samples.Load() - before; n > 0 {
		t.Fatalf("idle: %d samples in 100 ms parked, want none", n)
	}
	p.setBusy()
	act.note()
	awaitProcs(t, sets, 4, "burst after a call")
}

// awaitProcs fails unless the governor's next setting, within 10 s, is want
// processors.
func awaitProcs(t *testing.T, sets chan int, want int, what string) {
	t.Helper()
	select {
	case n := <-sets:
		if n != want {
			t.Fatalf("%s: set %d processors, want %d", what, n, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no processors set", what)
	}
}

// Calls keep the governor sampling even while they cost next to no CPU, so
// a burst among them is seen at once.
func TestProcGovernorSamplesWhileCalled(t *testing.T) {
	t.Parallel()
	p := newFakeProcess()
	act := newProcActivity()
	runGovernor(t, p, act, time.Hour)
	stop := time.After(300 * time.Millisecond)
	for {
		select {
		case <-stop:
			// Parked after its first sample, it would have taken two.
			if n := p.samples.Load(); n < 5 {
				t.Fatalf("called: %d samples in 300 ms, want one every 5 ms", n)
			}
			return
		case <-time.After(time.Millisecond):
			act.note()
		}
	}
}

// A parked governor still samples every parkedEvery, so CPU use that starts
// without any call (a provider's background work) gets every processor.
func TestProcGovernorParkedSeesBackgroundWork(t *testing.T) {
	t.Parallel()
	p := newFakeProcess()
	act := newProcActivity()
	sets := runGovernor(t, p, act, 50*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	p.setBusy()
	awaitProcs(t, sets, 4, "background work")
}

// Notes racing the governor's park and wake-up leave no wake-up behind and
// never strand it parked while calls arrive.
func TestProcActivityParkRace(t *testing.T) {
	t.Parallel()
	act := newProcActivity()
	tick := make(chan time.Time)
	for range 2000 {
		act.seen.Store(false)
		done := make(chan bool)
		go func() { done <- act.park(tick, nil) }()
		act.note()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a note left the governor parked")
		}
		if act.parked.Load() || len(act.wake) != 0 {
			t.Fatalf("after a wake-up: parked %v, %d wake-ups left", act.parked.Load(), len(act.wake))
		}
	}
}

// Both kinds of call are noted for the governor: a unary call through the
// interceptor Serve installs, and each message of the Invokes stream. Not
// parallel: the activity noted is the package's.
func TestCallsAreNotedForTheGovernor(t *testing.T) {
	srv := NewServer(inlineProbe{ended: make(chan error, 1)}, nil)
	require.NoError(t, srv.Configure(context.Background(), "main", json.RawMessage(`{}`)))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := governedGRPCServer(nil)
	adapter := &grpcServerAdapter{srv: srv}
	pluginpb.RegisterProviderServer(gs, adapter)
	pluginpb.RegisterInvokeStreamServer(gs, &streamServer{adapter: adapter})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	callActivity.seen.Store(false)
	_, err = pluginpb.NewProviderClient(conn).Health(ctx, &pluginpb.HealthRequest{})
	require.NoError(t, err)
	require.True(t, callActivity.seen.Load(), "a unary call was not noted")

	s, err := pluginpb.NewInvokeStreamClient(conn).Invokes(ctx)
	require.NoError(t, err)
	callActivity.seen.Store(false)
	require.NoError(t, s.Send(&pluginpb.CallBatch{Frames: []*pluginpb.CallFrame{inlineCall(1, "echo", `{"n":1}`)}}))
	_, err = s.Recv()
	require.NoError(t, err)
	require.True(t, callActivity.seen.Load(), "a streamed call was not noted")
	require.NoError(t, s.CloseSend())
}
