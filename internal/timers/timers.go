// Package timers owns Herald's durable timers in memory: a heap of "wake
// run R, step S, item N at time T" that calls back when each time comes.
// The engine's waits (wait, wait_for timeouts) use it, and so can any later
// per-step or per-item wakeup (send windows, delayed retries): one
// mechanism, not ad-hoc sleeps.
//
// The package keeps no state of its own across restarts and touches no
// store: its user loads the deadlines it keeps durably (store.Waits) with
// Set when a host starts, and makes the wakeup's effect idempotent (a
// conditional transition in the store), so a timer that fires on two
// replicas, or again after a restart, acts once.
package timers

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/scheduler"
)

// Clock tells the time and makes timers: the scheduler's, so
// clocktest.Clock drives both in tests.
type Clock = scheduler.Clock

// Key names what a timer wakes: a step of a run, or one item of a for_each
// step (Item is -1 for the step as a whole).
type Key struct {
	RunID  string
	StepID string
	Item   int
}

// FireFunc is called when a timer's time comes, with the time it was set
// for; the caller's lag is the clock's now minus at. It runs on one of the
// Timers' workers, so it may block on a store write; ctx ends when Run does.
type FireFunc func(ctx context.Context, k Key, at time.Time)

// DefaultWorkers is how many FireFuncs run at once: enough that their
// store writes share group commits when many deadlines come together.
const DefaultWorkers = 32

// Timers is a set of one-shot timers, at most one per Key. It is safe for
// concurrent use.
type Timers struct {
	clock   Clock
	fire    FireFunc
	workers int

	mu    sync.Mutex
	h     entries
	byKey map[Key]*entry
	wake  chan struct{}
}

// Options configure Timers.
type Options struct {
	// Clock is the clock; nil is the wall clock.
	Clock Clock
	// Workers bounds the FireFuncs running at once; zero is
	// DefaultWorkers.
	Workers int
}

// New returns Timers that call fire; Run starts them.
func New(fire FireFunc, opts Options) *Timers {
	if opts.Clock == nil {
		opts.Clock = scheduler.WallClock
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	return &Timers{clock: opts.Clock, fire: fire, workers: opts.Workers, byKey: map[Key]*entry{}, wake: make(chan struct{}, 1)}
}

// Set makes k fire at at, replacing an earlier time set for k.
func (t *Timers) Set(k Key, at time.Time) {
	t.mu.Lock()
	if e, ok := t.byKey[k]; ok {
		e.at = at
		heap.Fix(&t.h, e.index)
	} else {
		e := &entry{key: k, at: at}
		heap.Push(&t.h, e)
		t.byKey[k] = e
	}
	t.mu.Unlock()
	t.signal()
}

// Cancel removes the timer of k, if any; it reports whether one was set.
func (t *Timers) Cancel(k Key) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byKey[k]
	if !ok {
		return false
	}
	heap.Remove(&t.h, e.index)
	delete(t.byKey, k)
	return true
}

// Len returns how many timers are set.
func (t *Timers) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.h)
}

// Next returns the soonest time set, if any.
func (t *Timers) Next() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.h) == 0 {
		return time.Time{}, false
	}
	return t.h[0].at, true
}

func (t *Timers) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// due is one timer handed to a worker.
type due struct {
	key Key
	at  time.Time
}

// Run fires timers as their times come until ctx ends, then waits for the
// FireFuncs in flight. Timers set before Run fire once it starts.
//
// A worker goroutine is started for a due timer when fewer than the
// Timers' workers are running, takes the due timers queued meanwhile, and
// ends when none is left: a host with no timer due holds no workers.
func (t *Timers) Run(ctx context.Context) {
	p := &pool{fire: t.fire, max: t.workers, room: make(chan struct{}, 1)}
	defer p.wg.Wait()
	for {
		var wait time.Duration = -1
		now := t.clock.Now()
		for {
			t.mu.Lock()
			if len(t.h) == 0 {
				t.mu.Unlock()
				break
			}
			e := t.h[0]
			if d := e.at.Sub(now); d > 0 {
				wait = d
				t.mu.Unlock()
				break
			}
			heap.Pop(&t.h)
			delete(t.byKey, e.key)
			t.mu.Unlock()
			if !p.put(ctx, due{e.key, e.at}) {
				return
			}
		}
		var timer <-chan time.Time
		stop := func() bool { return false }
		if wait >= 0 {
			timer, stop = t.clock.NewTimer(wait)
		}
		select {
		case <-ctx.Done():
			stop()
			return
		case <-t.wake:
			stop()
		case <-timer:
		}
	}
}

// pool runs FireFuncs on up to max goroutines, started on demand.
type pool struct {
	fire FireFunc
	max  int
	// room is signalled when a worker takes a due timer off a full queue.
	room chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	queue   []due
	running int
}

// put queues d and starts a worker for it if fewer than max run. While max
// due timers wait it waits for room, as long as ctx lasts; it reports
// whether d was queued.
func (p *pool) put(ctx context.Context, d due) bool {
	for {
		p.mu.Lock()
		if len(p.queue) < p.max {
			p.queue = append(p.queue, d)
			if p.running < p.max {
				p.running++
				p.wg.Add(1)
				go p.work(ctx)
			}
			p.mu.Unlock()
			return true
		}
		p.mu.Unlock()
		select {
		case <-p.room:
		case <-ctx.Done():
			return false
		}
	}
}

// work fires the queued due timers until none is left. The due timers still
// queued when ctx ends are fired too, with ctx, as they were before.
func (p *pool) work(ctx context.Context) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.queue = nil // let a burst's backing array go
			p.mu.Unlock()
			return
		}
		d := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()
		select {
		case p.room <- struct{}{}:
		default:
		}
		p.fire(ctx, d.key, d.at)
	}
}

// entry is one timer in the heap.
type entry struct {
	key   Key
	at    time.Time
	index int
}

// entries is a min-heap by time.
type entries []*entry

func (h entries) Len() int           { return len(h) }
func (h entries) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h entries) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entries) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entries) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
