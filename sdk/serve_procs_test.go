package sdk

import (
	"sync/atomic"
	"testing"
	"time"
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
		g.watch(20*time.Millisecond, cpu, set, stop)
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
