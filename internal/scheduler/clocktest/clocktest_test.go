package clocktest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/scheduler/clocktest"
)

func TestTimersFireInOrderAtTheirDeadline(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clocktest.New(start)
	b, _ := c.NewTimer(2 * time.Second)
	a, _ := c.NewTimer(time.Second)
	stopped, stop := c.NewTimer(3 * time.Second)

	at, ok := c.NextTimer()
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), at)
	require.True(t, stop())
	require.False(t, stop())
	require.Equal(t, 2, c.Timers())

	c.Advance(5 * time.Second)
	require.Equal(t, start.Add(time.Second), <-a)
	require.Equal(t, start.Add(2*time.Second), <-b)
	require.Empty(t, stopped)
	require.Equal(t, start.Add(5*time.Second), c.Now())
	_, ok = c.NextTimer()
	require.False(t, ok)
}

func TestNonPositiveDelayFiresAtOnce(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := clocktest.New(now)
	ch, stop := c.NewTimer(0)
	require.Equal(t, now, <-ch)
	require.False(t, stop())
}
