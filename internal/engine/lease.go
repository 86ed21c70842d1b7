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
	// forfeited counts the slots given up by calls woken too late.
	forfeited int
}

// leasedSlot is one call's slot: it may be sent in [from, until].
type leasedSlot struct {
	from, until time.Time
	err         error
}

// take blocks until the call may be sent: at a slot of key's budget, which
// allows one call per iv, no later than tol after it.
func (l *sendLease) take(ctx context.Context, budget RateLimiter, key string, iv, tol time.Duration) error {
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
func (l *sendLease) slot(ctx context.Context, budget RateLimiter, key string, iv, tol time.Duration) (leasedSlot, error) {
	ch := make(chan leasedSlot, 1)
	l.mu.Lock()
	l.waiting = append(l.waiting, ch)
	if !l.busy {
		l.busy = true
		go l.reserve(budget, key, iv, tol)
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
// The budget answers how far its first slot lies from the database's
// clock; the call was on its way for part of the round trip, so the slot
// lies between start+ahead and end+ahead of this process's clock. A call
// goes no earlier than the latest and no later than the earliest moment
// plus tol, which is never early and at most tol late, whatever the round
// trip took.
func (l *sendLease) reserve(budget RateLimiter, key string, iv, tol time.Duration) {
	for {
		l.mu.Lock()
		n := min(len(l.waiting), maxLease)
		if n == 0 {
			l.busy = false
			l.mu.Unlock()
			return
		}
		batch := l.waiting[:n:n]
		l.waiting = l.waiting[n:]
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		// n slots of iv in one reservation: with a burst of 1 the budget
		// answers the first one's time.
		ahead, err := budget.Reserve(ctx, key, time.Duration(n)*iv, 1)
		end := time.Now()
		cancel()
		for k, ch := range batch {
			off := ahead + time.Duration(k)*iv
			ch <- leasedSlot{from: end.Add(off), until: start.Add(off + tol), err: err}
		}
	}
}
