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
