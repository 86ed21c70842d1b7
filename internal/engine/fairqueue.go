package engine

import (
	"context"
	"sync"
)

// fairQueue hands an instance's call slots to the runs waiting for them
// in turn: each slot goes to the next run in round-robin order, and
// within a run to its oldest waiting call. So a run with 50,000 items
// queued and a run with one urgent message each get every other slot,
// instead of the urgent message waiting behind the whole blast (per-run
// fair queuing, the way a scheduler shares a CPU).
type fairQueue struct {
	mu   sync.Mutex
	runs map[string][]*slotWaiter
	// ring lists the runs with waiters in the order they are served;
	// next is the index of the one served next.
	ring []string
	next int
	// dispatching is set while a dispatcher hands out slots.
	dispatching bool
}

// slotWaiter is one call waiting for a slot. The queue sends the result
// (nil, or the budget's error) once on ch.
type slotWaiter struct {
	ch   chan error
	done bool
}

// enqueue adds a waiter for run and reports whether no dispatcher is
// running, so the caller must start one.
func (q *fairQueue) enqueue(run string) (*slotWaiter, bool) {
	w := &slotWaiter{ch: make(chan error, 1)}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.runs == nil {
		q.runs = map[string][]*slotWaiter{}
	}
	start := !q.dispatching
	q.dispatching = true
	if _, ok := q.runs[run]; !ok {
		q.ring = append(q.ring, run)
	}
	q.runs[run] = append(q.runs[run], w)
	return w, start
}

// wait blocks until w is granted a slot or ctx ends. A waiter that gives
// up is left in place and skipped when its turn comes.
func (q *fairQueue) wait(ctx context.Context, w *slotWaiter) error {
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		q.mu.Lock()
		defer q.mu.Unlock()
		if w.done {
			// Granted meanwhile: the slot is lost, as one whose call is
			// canceled after its wait is.
			return ctx.Err()
		}
		w.done = true
		return ctx.Err()
	}
}

// grant gives a slot (or err) to the next waiting call and reports
// whether one was waiting. Waiters that gave up are dropped on the way.
// When none is left the dispatcher must stop: grant has noted that, so
// the next enqueue starts a new one.
func (q *fairQueue) grant(err error) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ring) > 0 {
		if q.next >= len(q.ring) {
			q.next = 0
		}
		run := q.ring[q.next]
		list := q.runs[run]
		var w *slotWaiter
		for len(list) > 0 && w == nil {
			if !list[0].done {
				w = list[0]
			}
			list[0] = nil
			list = list[1:]
		}
		if len(list) == 0 {
			delete(q.runs, run)
			q.ring = append(q.ring[:q.next], q.ring[q.next+1:]...)
		} else {
			q.runs[run] = list
			q.next++
		}
		if w != nil {
			w.done = true
			w.ch <- err
			return true
		}
	}
	q.dispatching = false
	return false
}

// waiting reports whether a call is waiting. A dispatcher that sees none
// stops (see grant).
func (q *fairQueue) waiting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring) == 0 {
		q.dispatching = false
		return false
	}
	return true
}
