package engine

import (
	"context"
	"sync"
	"time"
)

// sendWindow keeps, per instance, the times of this process's last sends,
// so that no window of an instance's period (a second for "200/s") holds
// more sends than its limit allows, measured right where calls are sent.
// The fair queue in front of it paces the grants; a slow store commit
// between a grant and its send can hold calls back and release them
// together, and the window is what keeps such a catch-up within the
// limit instead of spending it (or exceeding it).
type sendWindow struct {
	mu    sync.Mutex
	rings map[string]*sendRing
}

// sendRing holds the last len(times) send times of one instance; next is
// the oldest.
type sendRing struct {
	times []time.Time
	next  int
	last  time.Time
}

// maxWindow bounds the sends a window remembers; a limit above it (such
// as 1,000,000/h) is enforced by the budget and the minimum gap alone.
const maxWindow = 100_000

// wait blocks until one more send of instance keeps every window of per
// at n sends or fewer and comes at least gap after the previous one, and
// then counts it.
func (w *sendWindow) wait(ctx context.Context, instance string, n int, per, gap time.Duration) error {
	n = min(max(n, 1), maxWindow)
	for {
		w.mu.Lock()
		if w.rings == nil {
			w.rings = map[string]*sendRing{}
		}
		r := w.rings[instance]
		if r == nil || len(r.times) != n {
			r = &sendRing{times: make([]time.Time, n)}
			w.rings[instance] = r
		}
		now := time.Now()
		at := r.last.Add(gap)
		if oldest := r.times[r.next]; !oldest.IsZero() {
			at = later(at, oldest.Add(per))
		}
		if !at.After(now) {
			r.times[r.next] = now
			r.next = (r.next + 1) % n
			r.last = now
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		if err := sleep(ctx, at.Sub(now)); err != nil {
			return err
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
