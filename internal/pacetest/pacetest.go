// Package pacetest measures the pace of calls for the rate-limit tests and
// benchmarks: the most calls in any window and the overall rate. It is for
// tests only.
package pacetest

import (
	"slices"
	"time"
)

// Pace is what a list of call times shows.
type Pace struct {
	// Calls is how many there were, Span from the first (at First) to
	// the last.
	Calls int
	First time.Time
	Span  time.Duration
	// Rate is calls per second over Span (the first call starts it).
	Rate float64
	// Peak is the most calls within any window that starts at a call.
	Peak int
}

// Measure returns the pace of times (in any order) for windows of w.
func Measure(times []time.Time, w time.Duration) Pace {
	sorted := slices.Clone(times)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	p := Pace{Calls: len(sorted)}
	if len(sorted) < 2 {
		p.Peak = len(sorted)
		return p
	}
	p.First = sorted[0]
	p.Span = sorted[len(sorted)-1].Sub(sorted[0])
	p.Rate = float64(len(sorted)-1) / p.Span.Seconds()
	j := 0
	for i := range sorted {
		for j < len(sorted) && sorted[j].Sub(sorted[i]) < w {
			j++
		}
		p.Peak = max(p.Peak, j-i)
	}
	return p
}
