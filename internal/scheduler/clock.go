package scheduler

import "time"

// Clock tells the time and wakes the scheduler. The real clock is the
// default; tests pass a fake one, such as clocktest.Clock, to move time by
// hand.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a channel that receives the time once d has elapsed
	// (at once when d is not positive), and a function that stops the timer,
	// reporting whether it stopped it before it fired. A stopped timer sends
	// nothing.
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// WallClock is the wall clock and the runtime's timers, the default of
// every package that takes a Clock.
var WallClock Clock = realClock{}

// realClock is the wall clock and the runtime's timers.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// sleep waits d on c, returning false when done closes first.
func sleep(c Clock, done <-chan struct{}, d time.Duration) bool {
	ch, stop := c.NewTimer(d)
	select {
	case <-ch:
		return true
	case <-done:
		stop()
		return false
	}
}
