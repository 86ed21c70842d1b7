package scheduler

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store"
)

// Defaults of Options.
const (
	// DefaultMaxCatchup caps the missed fires catchup "all" runs.
	DefaultMaxCatchup = 100
	// DefaultWorkers is how many fires are handed to Fire at once.
	DefaultWorkers = 64
	// DefaultFireAttempts is how often a failing Fire is tried.
	DefaultFireAttempts = 4
	// DefaultRetryDelay is the wait before the first retry of a failing Fire
	// or state write; it doubles with every further retry of a fire.
	DefaultRetryDelay = time.Second
	// DefaultMaxQueued bounds the fires waiting for a worker.
	DefaultMaxQueued = 100_000
)

// maxSleep bounds one wait of the loop, so that a step of the wall clock
// delays a fire by at most this long.
const maxSleep = time.Minute

// flushTimeout bounds the last state write when Run stops.
const flushTimeout = 10 * time.Second

// Options configure a Scheduler.
type Options struct {
	// Store keeps the durable state of every cron trigger; required.
	Store store.Store
	// Fire hands a due fire over, usually by creating a run under
	// d.IdempotencyKey(); required. It is called from several goroutines at
	// once. An error is retried with backoff (the key makes that safe), up
	// to FireAttempts times. ctx ends when Run stops.
	Fire func(ctx context.Context, d Due) error
	// Clock is the time source; nil uses the real clock.
	Clock Clock
	// Logger receives catch-up decisions and Fire and store failures; nil
	// discards.
	Logger hclog.Logger
	// Observer receives fire lags and missed fires; optional.
	Observer Observer
	// IsLeader, when set, is asked whenever fires come due (and once per
	// trigger at start), and fires are handed over only while it returns
	// true; nil means always. It is the hook for scale-out: while it returns
	// false the scheduler keeps time but neither fires, catches up nor
	// writes state, leaving that to the leader, and when it returns true
	// again firing resumes from the current time. Fires that came due while
	// no process led are not caught up; that a fire runs once even when two
	// processes both believe they lead rests on Due.IdempotencyKey. It is
	// called with the scheduler's lock held and must return quickly.
	IsLeader func() bool
	// MaxCatchup caps the missed fires a trigger with catchup "all" runs;
	// older ones are dropped, logged and counted. Zero uses
	// DefaultMaxCatchup.
	MaxCatchup int
	// Workers is how many Fire calls may run at once, so one slow Fire does
	// not delay others. Zero uses DefaultWorkers.
	Workers int
	// FireAttempts is how many times a fire is tried before it is counted as
	// missed. Zero uses DefaultFireAttempts.
	FireAttempts int
	// RetryDelay is the first backoff of a failing Fire, doubled after each
	// retry, and the wait before a failed state write is tried again. Zero
	// uses DefaultRetryDelay.
	RetryDelay time.Duration
	// MaxQueued bounds the fires waiting for a worker; a fire beyond it is
	// counted as missed. Zero uses DefaultMaxQueued.
	MaxQueued int
}

// Scheduler fires cron triggers. Configure it with SetTriggers (or Load) and
// start it with Run; SetTriggers may be called again at any time to reload.
// Its methods are safe for concurrent use.
type Scheduler struct {
	opts  Options
	clock Clock
	log   hclog.Logger
	obs   Observer

	mu      sync.Mutex
	entries map[entryID]*entry
	heap    entryHeap
	started bool
	dirty   map[*entry]struct{} // state to write, guarded by mu
	batch   []*entry            // scratch of dispatch, owned by the loop

	wake      chan struct{} // the loop must look at the heap again
	stateWake chan struct{} // there is state to write
	queue     *workQueue
	running   atomic.Bool
}

// entryID identifies a trigger across reloads.
type entryID struct{ workflow, key string }

// entry is a trigger and its timing. Its fields are guarded by
// Scheduler.mu.
type entry struct {
	Entry
	sched schedule
	// next is the next fire to dispatch; zero when the schedule never fires
	// again.
	next time.Time
	// last is the scheduled time of the latest fire handed over.
	last time.Time
	// inflight are the scheduled times dispatched whose Fire has not
	// finished, oldest first.
	inflight []time.Time
	// index is the position in the heap, -1 when not in it.
	index int
	// removed is set once a reload dropped the trigger.
	removed bool
	// resume is set until Run reads the stored state.
	resume bool
	// rescheduling is set while dispatch has handed the fire at next over
	// but not yet computed the one after; dirtyLater remembers a state
	// change meanwhile, to be written once next is current.
	rescheduling bool
	dirtyLater   bool
}

// state returns what to store for e: the next fire not yet handed over.
func (e *entry) state() store.CronState {
	next := e.next
	if len(e.inflight) > 0 {
		next = e.inflight[0]
	}
	return store.CronState{Workflow: e.Workflow, Trigger: e.Key, Last: e.last, Next: next}
}

// New returns a Scheduler with no triggers.
func New(opts Options) (*Scheduler, error) {
	if opts.Store == nil {
		return nil, errors.New("scheduler: a store is required")
	}
	if opts.Fire == nil {
		return nil, errors.New("scheduler: a fire function is required")
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	opts.MaxCatchup = cmp.Or(opts.MaxCatchup, DefaultMaxCatchup)
	opts.Workers = cmp.Or(opts.Workers, DefaultWorkers)
	opts.FireAttempts = cmp.Or(opts.FireAttempts, DefaultFireAttempts)
	opts.RetryDelay = cmp.Or(opts.RetryDelay, DefaultRetryDelay)
	opts.MaxQueued = cmp.Or(opts.MaxQueued, DefaultMaxQueued)
	return &Scheduler{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		obs:       opts.Observer,
		entries:   map[entryID]*entry{},
		dirty:     map[*entry]struct{}{},
		wake:      make(chan struct{}, 1),
		stateWake: make(chan struct{}, 1),
		queue:     newWorkQueue(),
	}, nil
}

// Load schedules the cron triggers of p, replacing the current set as
// SetTriggers does.
func (s *Scheduler) Load(p *config.Project) error {
	return s.SetTriggers(Entries(p))
}

// SetTriggers replaces the set of scheduled triggers. A trigger whose
// workflow and key are already scheduled keeps its timing and state (its
// Trigger is updated, so a new catchup policy applies); a trigger no longer
// in the set stops, though fires already handed to a worker finish. A new
// trigger set before Run starts resumes from its stored state, catching up
// on missed fires; one added while Run runs starts from now. On error
// nothing changes.
func (s *Scheduler) SetTriggers(entries []Entry) error {
	seen := make(map[entryID]bool, len(entries))
	for _, en := range entries {
		if err := en.validate(); err != nil {
			return err
		}
		id := entryID{en.Workflow, en.Key}
		if seen[id] {
			return fmt.Errorf("cron trigger %s of workflow %q is listed twice", en.Key, en.Workflow)
		}
		seen[id] = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var now time.Time
	if s.started {
		now = s.clock.Now()
	}
	for _, en := range entries {
		id := entryID{en.Workflow, en.Key}
		if e, ok := s.entries[id]; ok {
			e.Entry, e.sched = en, compile(en.Trigger)
			continue
		}
		e := &entry{Entry: en, sched: compile(en.Trigger), index: -1}
		s.entries[id] = e
		if !s.started {
			e.resume = true
			continue
		}
		e.next, _ = e.sched.next(now)
		if !e.next.IsZero() {
			heap.Push(&s.heap, e)
		}
		s.markDirty(e)
	}
	for id, e := range s.entries {
		if !seen[id] {
			e.removed = true
			if e.index >= 0 {
				heap.Remove(&s.heap, e.index)
			}
			delete(s.entries, id)
			delete(s.dirty, e)
		}
	}
	signal(s.wake)
	return nil
}

// NextFire returns the next fire of a scheduled trigger, and false when the
// trigger is not scheduled or never fires again.
func (s *Scheduler) NextFire(workflow, key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[entryID{workflow, key}]
	if !ok {
		return time.Time{}, false
	}
	next := e.next
	switch {
	case e.resume:
		next, _ = e.sched.next(s.clock.Now())
	case e.rescheduling:
		next, _ = e.sched.next(e.next)
	}
	return next, !next.IsZero()
}

// Run fires the scheduled triggers until ctx ends. It first reads the stored
// state of the triggers set so far and catches up on missed fires as their
// policies say; a store error there stops it with that error. When ctx ends
// it stops handing fires over, waits for the Fire calls in progress (their
// ctx is ctx, so they should return promptly), writes the state of every
// trigger and returns nil. Fires still queued are left to the catch-up of the
// next start. Run may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: run may be called once")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := s.clock.Now()
	s.mu.Lock()
	s.started = true
	var resume []*entry
	for _, e := range s.entries {
		if e.resume {
			resume = append(resume, e)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(resume, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.Workflow, b.Workflow), cmp.Compare(a.Key, b.Key))
	})

	var writer sync.WaitGroup
	s.queue.start(s.opts.Workers, func() { s.work(ctx) })
	writer.Go(func() { s.writeStates(ctx) })

	err := s.resume(ctx, resume, start)
	if err == nil {
		s.loop(ctx)
	}

	cancel()
	s.queue.close()
	s.queue.wait()
	writer.Wait()
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancelFlush()
	if !s.flush(flushCtx) {
		s.log.Error("could not write the cron state of every trigger; the next start may repeat fires, which their idempotency keys de-duplicate")
	}
	return err
}

// isLeader reports whether this process may fire.
func (s *Scheduler) isLeader() bool {
	return s.opts.IsLeader == nil || s.opts.IsLeader()
}

// markDirty schedules e's state for writing; s.mu must be held.
func (s *Scheduler) markDirty(e *entry) {
	if e.rescheduling {
		e.dirtyLater = true
		return
	}
	s.dirty[e] = struct{}{}
	signal(s.stateWake)
}

// signal wakes the goroutine waiting on ch, if it is not already due to wake.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
