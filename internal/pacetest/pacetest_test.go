package pacetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMeasure(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for i := range 30 { // 10/s for 3 s, then 5 at once
		times = append(times, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	for range 5 {
		times = append(times, t0.Add(2950*time.Millisecond))
	}
	p := Measure(times, time.Second)
	require.Equal(t, 35, p.Calls)
	require.Equal(t, 2950*time.Millisecond, p.Span)
	require.InDelta(t, 34/2.95, p.Rate, 1e-9)
	require.Equal(t, 15, p.Peak, "the window from 2.0 s holds 2.0–2.9 s and the five at 2.95 s")
}

func TestStalledCountsOnlyOversleeps(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ms := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }
	// Punctual wakes, one 10 ms late (Go's time slice: no stall), one
	// 41 ms after the one before (a stall of 30 ms from 23.5 to 53.5 ms),
	// then punctual again.
	p := &StallProbe{wakes: []time.Time{ms(0), ms(1.5), ms(12.5), ms(53.5), ms(55), ms(56.2)}}
	require.Equal(t, 30*time.Millisecond, p.Stalled(ms(0), ms(60)))
	require.Equal(t, 10*time.Millisecond, p.Stalled(ms(30), ms(40)), "only the part within the interval")
	require.Zero(t, p.Stalled(ms(54), ms(60)))
	require.Zero(t, p.Stalled(ms(0), ms(13)), "oversleeping by less than the slack is no stall")
}
