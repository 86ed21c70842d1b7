package scheduler

import (
	"container/heap"
	"context"
	"time"
)

// loop sleeps until the next fire is due, dispatches what is due and
// repeats, until ctx ends. It waits on one timer at a time, set for the
// earliest fire of the heap.
func (s *Scheduler) loop(ctx context.Context) {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		head := s.dispatch(s.clock.Now())
		wait := maxSleep
		if !head.IsZero() {
			// Measured after dispatch, which may have taken a while.
			wait = min(wait, head.Sub(s.clock.Now()))
		}
		if stop != nil {
			stop()
		}
		var alarm <-chan time.Time
		alarm, stop = s.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-alarm:
		}
	}
}

// rescheduleChunk is how many entries dispatch reschedules per hold of the
// lock, so workers finishing fires are not held up behind a large batch.
const rescheduleChunk = 64

// dispatch queues every fire due at now and returns the next fire time
// after that, zero when none is scheduled. It hands the due fires to the
// workers first and computes the following fires of those triggers after,
// so a burst of fires is not delayed by the schedule arithmetic.
func (s *Scheduler) dispatch(now time.Time) time.Time {
	s.mu.Lock()
	if len(s.heap) == 0 || s.heap[0].next.After(now) {
		defer s.mu.Unlock()
		return s.head()
	}
	leader := s.isLeader()
	batch := s.batch[:0]
	for len(s.heap) > 0 && !s.heap[0].next.After(now) {
		e := heap.Pop(&s.heap).(*entry)
		e.rescheduling = true
		batch = append(batch, e)
	}
	var items []work
	if leader {
		items = make([]work, 0, len(batch))
		room := s.opts.MaxQueued - s.queue.len()
		for _, e := range batch {
			items = s.enqueue(items, room, e, Due{Workflow: e.Workflow, TriggerKey: e.Key, ScheduledTime: e.next})
		}
	}
	s.mu.Unlock()
	s.queue.push(items...)

	var late []work
	for i := 0; i < len(batch); i += rescheduleChunk {
		s.mu.Lock()
		for _, e := range batch[i:min(i+rescheduleChunk, len(batch))] {
			late = s.reschedule(late, e, now, leader)
		}
		s.mu.Unlock()
	}
	s.queue.push(late...)
	clear(batch)
	s.batch = batch[:0]

	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head()
}

// reschedule computes the next fire of e after the one dispatch just
// handed over and puts e back in the heap; s.mu must be held.
func (s *Scheduler) reschedule(late []work, e *entry, now time.Time, leader bool) []work {
	e.rescheduling = false
	if e.removed {
		return late
	}
	n, _ := e.sched.next(e.next)
	if !n.IsZero() && !n.After(now) {
		// The scheduler stalled (a suspended machine, an overloaded one):
		// more fires of e came due than the one just queued.
		if leader {
			m := e.sched.missed(n, now, s.keep(e))
			late = s.catchUp(late, e, m, "while the scheduler stalled")
			n = m.next
		} else {
			n, _ = e.sched.next(now)
		}
	}
	e.next = n
	if !n.IsZero() {
		heap.Push(&s.heap, e)
	}
	if e.dirtyLater {
		e.dirtyLater = false
		s.markDirty(e)
	}
	return late
}

// head returns the earliest next fire; s.mu must be held.
func (s *Scheduler) head() time.Time {
	if len(s.heap) == 0 {
		return time.Time{}
	}
	return s.heap[0].next
}

// enqueue appends d to items as e's in-flight fire, unless items already
// fill room, the free space of the queue; s.mu must be held.
func (s *Scheduler) enqueue(items []work, room int, e *entry, d Due) []work {
	if len(items) >= room {
		s.log.Error("too many fires wait for a worker; dropping one", "workflow", d.Workflow, "trigger", d.TriggerKey,
			"scheduled", d.ScheduledTime, "queued", s.opts.MaxQueued)
		s.obs.Missed(d.Workflow, d.TriggerKey, MissOverloaded, 1)
		return items
	}
	e.inflight = append(e.inflight, d.ScheduledTime)
	return append(items, work{e: e, due: d})
}
