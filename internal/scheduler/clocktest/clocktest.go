// Package clocktest provides a fake clock for testing code that takes a
// scheduler.Clock: time stands still until the test moves it, and timers
// fire when it passes their deadline. It imports nothing from Herald.
package clocktest

import (
	"slices"
	"sync"
	"time"
)

// Clock is a fake clock. Its zero value is not usable; call New. It is safe
// for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	seq    int
}

// timer is a pending timer.
type timer struct {
	at  time.Time
	seq int // creation order, to fire timers with the same deadline in order
	c   chan time.Time
}

// New returns a clock that reads now until it is moved.
func New(now time.Time) *Clock {
	return &Clock{now: now}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a channel that receives the clock's time once the clock
// has moved d past now (at once when d is not positive), and a function that
// stops the timer and reports whether it did so before it fired.
func (c *Clock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch, func() bool { return false }
	}
	c.seq++
	t := &timer{at: c.now.Add(d), seq: c.seq, c: ch}
	c.timers = append(c.timers, t)
	return ch, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Advance moves the clock d forward, firing the timers that come due in
// order of deadline, each with the clock at its deadline.
func (c *Clock) Advance(d time.Duration) {
	c.Set(c.Now().Add(d))
}

// Set moves the clock to t, firing the timers due by then as Advance does.
// A t before the clock's time sets the time and fires nothing.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		i := c.due(t)
		if i < 0 {
			c.now = t
			return
		}
		tm := c.timers[i]
		c.timers = slices.Delete(c.timers, i, i+1)
		if tm.at.After(c.now) {
			c.now = tm.at
		}
		tm.c <- c.now // buffered, and fired once
	}
}

// due returns the index of the earliest timer due by t, or -1; c.mu must be
// held.
func (c *Clock) due(t time.Time) int {
	best := -1
	for i, tm := range c.timers {
		if tm.at.After(t) {
			continue
		}
		if best < 0 || tm.at.Before(c.timers[best].at) || (tm.at.Equal(c.timers[best].at) && tm.seq < c.timers[best].seq) {
			best = i
		}
	}
	return best
}

// NextTimer returns the earliest deadline of a pending timer, and false when
// none is pending. A test waits on it to learn that the code under test has
// gone to sleep until a given time.
func (c *Clock) NextTimer() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	best := c.timers[0].at
	for _, tm := range c.timers[1:] {
		if tm.at.Before(best) {
			best = tm.at
		}
	}
	return best, true
}

// Timers returns the number of pending timers.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
