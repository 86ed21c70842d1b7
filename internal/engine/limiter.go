package engine

import (
	"context"
	"sync"
	"time"
)

// RateLimiter keeps rate budgets for an Engine whose Options set one;
// without it each Engine keeps them in memory. The scale-out host shares
// every budget across its replicas this way, so their calls together
// never exceed a limit. The engine decides which budget a call takes
// (an instance's, a recipient's) and how fast it refills; the RateLimiter
// only keeps the books.
type RateLimiter interface {
	// Reserve takes the next slot of key's budget, which allows one call
	// per interval and at most burst at once, and returns how long until
	// that slot comes (0 for now). It does not wait. A slot reserved and
	// then not used is not given back.
	Reserve(ctx context.Context, key string, interval time.Duration, burst int) (time.Duration, error)
}

// ClockedRateLimiter is a RateLimiter that keeps its budgets on a clock
// of its own (PostgreSQL's, shared by replicas) and can say when on that
// clock a reserved slot comes. In scale-out the engine then sends each
// call at its slot's instant on this process's clock, estimated from the
// round trips of its reservations, instead of after a delay that the
// round trip made late by an unknown part.
type ClockedRateLimiter interface {
	RateLimiter
	// ReserveAt reserves as Reserve does and returns the slot's time and
	// the limiter's time when it reserved it, both on its clock.
	ReserveAt(ctx context.Context, key string, interval time.Duration, burst int) (slot, now time.Time, err error)
}

// memoryBudget is the in-process RateLimiter: a GCRA (a token bucket kept
// as one theoretical arrival time per key).
type memoryBudget struct {
	mu    sync.Mutex
	now   func() time.Time
	tat   map[string]time.Time
	calls int
}

var _ RateLimiter = (*memoryBudget)(nil)

func newMemoryBudget() *memoryBudget {
	return &memoryBudget{now: time.Now, tat: map[string]time.Time{}}
}

// Reserve implements RateLimiter.
func (b *memoryBudget) Reserve(_ context.Context, key string, interval time.Duration, burst int) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	tat := b.tat[key]
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(interval)
	b.tat[key] = tat
	if b.calls++; b.calls%4096 == 0 {
		b.prune(now)
	}
	return max(tat.Sub(now)-time.Duration(max(burst, 1))*interval, 0), nil
}

// prune forgets keys whose bucket has refilled completely, so a blast to
// many recipients does not keep one entry per recipient for ever.
func (b *memoryBudget) prune(now time.Time) {
	for k, t := range b.tat {
		if t.Before(now) {
			delete(b.tat, k)
		}
	}
}

// rateWait waits until the call of action on instance with input may be
// made under the instance's limits, shared or in-process.
func (x *execution) rateWait(ctx context.Context, instance, action string, input []byte) (time.Duration, error) {
	return x.e.pacer.wait(ctx, x.run.ID, x.st.project.Providers[instance], action, input)
}

// rateSpace evens out the calls of instance right before one is sent.
func (x *execution) rateSpace(ctx context.Context, instance string) error {
	return x.e.pacer.space(ctx, x.st.project.Providers[instance])
}

// rateLimited tells the instance's limit that it answered rate_limited.
func (x *execution) rateLimited(instance string) {
	x.e.pacer.limited(x.st.project.Providers[instance])
}
