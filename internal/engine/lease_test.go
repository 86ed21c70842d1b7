package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/pacetest"
)

// farBudget is a shared budget as PostgreSQL keeps it, seen from a
// replica: on a clock offset from this process's, behind round trips of
// random length up to jitter, half of it on the way there.
type farBudget struct {
	mu     sync.Mutex
	tat    time.Time
	offset time.Duration
	jitter time.Duration
}

func (b *farBudget) trip() { time.Sleep(rand.N(b.jitter/2) + time.Microsecond) }

func (b *farBudget) ReserveAt(_ context.Context, _ string, interval time.Duration, burst int) (slot, now time.Time, err error) {
	b.trip()
	b.mu.Lock()
	now = time.Now().Add(b.offset)
	b.tat = later(b.tat, now).Add(interval)
	slot = b.tat.Add(-time.Duration(max(burst, 1)) * interval)
	b.mu.Unlock()
	b.trip()
	return slot, now, nil
}

func (b *farBudget) Reserve(ctx context.Context, key string, interval time.Duration, burst int) (time.Duration, error) {
	slot, now, err := b.ReserveAt(ctx, key, interval, burst)
	return max(slot.Sub(now), 0), err
}

var _ ClockedRateLimiter = (*farBudget)(nil)

// leaseRun has two replicas' leases share budget at 100/s, each with 16
// calls in flight, and returns when the 300 calls were released, with the
// slots the replicas gave up because their calls were woken too late.
func leaseRun(t *testing.T, budget ClockedRateLimiter) (pace pacetest.Pace, forfeited int) {
	rl := &config.RateLimit{Count: 100, Per: time.Second, Rate: 100, Burst: 1}
	iv := interval(rl.Rate * headroom)
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	left := 300
	var leases []*sendLease
	for range 2 {
		l := &sendLease{}
		leases = append(leases, l)
		for range 16 {
			wg.Go(func() {
				for {
					mu.Lock()
					if left == 0 {
						mu.Unlock()
						return
					}
					left--
					mu.Unlock()
					require.NoError(t, l.take(context.Background(), budget, "wa#send", iv, lateness(rl, iv)))
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, l := range leases {
		forfeited += l.forfeited
	}
	return pacetest.Measure(times, time.Second), forfeited
}

// TestLeasedSendsStayWithinTheLimit: replicas whose round trips to the
// shared budget take up to 40 ms, on a clock 3 s off the budget's, send
// at most the limit (+1) in every second and keep the pace, because each
// sends at its slot's instant placed by the shortest trip. The pace is
// measured while the process runs: the time a loaded machine gave it no
// CPU is taken off (no call can be sent then, and one woken too late gives
// its slot up).
func TestLeasedSendsStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	probe := pacetest.StartStallProbe(t)
	clocked, forfeited := leaseRun(t, &farBudget{offset: 3 * time.Second, jitter: 40 * time.Millisecond})
	stalled := probe.Stalled(clocked.First, clocked.First.Add(clocked.Span))
	rate := float64(clocked.Calls-1) / (clocked.Span - stalled).Seconds()
	t.Logf("clocked budget: %d calls at %.1f/s, %.1f/s without the %s the process was stalled (%d slots given up by calls woken late), at most %d in any 1 s window",
		clocked.Calls, clocked.Rate, rate, stalled.Round(time.Millisecond), forfeited, clocked.Peak)
	require.LessOrEqual(t, clocked.Peak, 101)
	require.Greater(t, rate, 70.0, "the round trips cost no pace (98/s aimed at), the machine's stalls aside")
}
