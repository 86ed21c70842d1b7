package sdk

import (
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
