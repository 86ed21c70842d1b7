package engine

import (
	"context"
	"sync"
	"time"
)

// maxLease bounds the send slots one reservation takes for the calls of a
// process waiting to send.
const maxLease = 16

// sendLease takes slots of an instance's shared send budget for the calls
// of this process, and releases each call at its slot's exact instant. The
// calls that wait together share one reservation of consecutive slots (a
// lease): one round trip to the budget for all of them, made while they
// wait, so the trip costs no pace. A call woken more than a tolerance
// after its slot does not send late, bunching with the punctual sends of
// other replicas: it gives the slot up and takes another. So every send
// goes out within [slot, slot+tol] of a slot of the shared timeline, and
// the replicas together stay within the limit in every window, at the
// price of the slots given up (the budget never gives one back).
type sendLease struct {
	mu      sync.Mutex
	waiting []chan leasedSlot
	busy    bool
	// iv and tol are the slots' spacing and tolerance for the next lease.
	iv, tol time.Duration
	// forfeited counts the slots given up by calls woken too late.
	forfeited int
	// clock is the offset of the budget's clock; only reserve uses it.
	clock clockOffset
}

// leasedSlot is one call's slot: it may be sent in [from, until].
type leasedSlot struct {
	from, until time.Time
	err         error
}

// take blocks until the call may be sent: at a slot of key's budget, which
// allows one call per iv, no later than tol after it.
func (l *sendLease) take(ctx context.Context, budget ClockedRateLimiter, key string, iv, tol time.Duration) error {
	for {
		slot, err := l.slot(ctx, budget, key, iv, tol)
		if err != nil {
			return err
		}
		if err := sleep(ctx, time.Until(slot.from)); err != nil {
			return err
		}
		if !time.Now().After(slot.until) {
			return nil
		}
		l.mu.Lock()
		l.forfeited++
		l.mu.Unlock()
	}
}

// slot queues the call for the next lease and returns its slot.
func (l *sendLease) slot(ctx context.Context, budget ClockedRateLimiter, key string, iv, tol time.Duration) (leasedSlot, error) {
	ch := make(chan leasedSlot, 1)
	l.mu.Lock()
	l.waiting = append(l.waiting, ch)
	// The pace of the latest call is the pace of the next lease (AIMD
	// may have changed it).
	l.iv, l.tol = iv, tol
	if !l.busy {
		l.busy = true
		go l.reserve(budget, key)
	}
	l.mu.Unlock()
	select {
	case s := <-ch:
		return s, s.err
	case <-ctx.Done():
		// The slot reserved for this call goes unused: the instance sees
		// one call fewer, never one more.
		return leasedSlot{}, ctx.Err()
	}
}

// reserve takes a lease for the waiting calls, in order, until none waits.
func (l *sendLease) reserve(budget ClockedRateLimiter, key string) {
	for {
		l.mu.Lock()
		iv, tol := l.iv, l.tol
		n := min(len(l.waiting), maxLease)
		if n == 0 {
			l.busy = false
			l.mu.Unlock()
			return
		}
		batch := l.waiting[:n:n]
		l.waiting = l.waiting[n:]
		l.mu.Unlock()
		// n slots of iv in one reservation: with a burst of 1 the budget
		// answers the first one.
		from, until, err := l.first(budget, key, time.Duration(n)*iv, tol)
		for k, ch := range batch {
			off := time.Duration(k) * iv
			ch <- leasedSlot{from: from.Add(off), until: until.Add(off), err: err}
		}
	}
}

// first reserves span of key's budget and returns when, on this
// process's clock, a call may go at its start: never before it, at most
// tol after it. The budget says when the slot comes on its clock; the
// offset between the clocks is estimated from the round trips (the budget
// read its clock between the request's start and its answer), keeping the
// estimate of the shortest trip, so the slot is placed within a fraction
// of a millisecond even when a trip takes tens.
func (l *sendLease) first(budget ClockedRateLimiter, key string, span, tol time.Duration) (from, until time.Time, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	slot, now, err := budget.ReserveAt(ctx, key, span, 1)
	end := time.Now()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	offset, uncertain := l.clock.sample(start, end, now)
	at := slot.Add(-offset)
	return at.Add(uncertain), at.Add(tol - uncertain), nil
}

// clockOffset estimates how far another clock is ahead of this process's
// from round trips: one that started at start and ended at end (on this
// clock) read the other clock at now, so the offset is now minus the
// trip's midpoint, within half the trip. The best estimate is the one of
// the shortest trip, allowed to age by driftPPM.
type clockOffset struct {
	offset, uncertain time.Duration
	at                time.Time
}

// driftPPM is how fast an estimate is taken to age: 100 µs a second, far
// above the drift of real clocks.
const driftPPM = 100

// sample takes one round trip's estimate and returns the best one with
// its uncertainty.
func (c *clockOffset) sample(start, end, now time.Time) (offset, uncertain time.Duration) {
	half := end.Sub(start) / 2
	aged := c.uncertain + time.Duration(int64(end.Sub(c.at))/1_000_000*driftPPM)
	if c.at.IsZero() || half <= aged {
		c.offset, c.uncertain, c.at = now.Sub(start.Add(half)), half, end
		return c.offset, half
	}
	return c.offset, aged
}
