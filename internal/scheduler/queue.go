package scheduler

import "sync"

// work is one fire waiting for a worker.
type work struct {
	e   *entry
	due Due
}

// workQueue is the FIFO between the loop and the workers. It never blocks the
// loop; its length is bounded by the caller.
type workQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	items  []work
	head   int
	closed bool
}

func newWorkQueue() *workQueue {
	q := &workQueue{}
	q.cond.L = &q.mu
	return q
}

// push appends items and wakes workers.
func (q *workQueue) push(items ...work) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	if q.head > 0 && q.head >= len(q.items)/2 {
		// Reuse the consumed front instead of growing the backing array.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, items...)
	q.mu.Unlock()
	if len(items) == 1 {
		q.cond.Signal()
	} else {
		q.cond.Broadcast()
	}
}

// pop returns the oldest item, waiting for one; false once the queue is
// closed. Items still queued at close are left.
func (q *workQueue) pop() (work, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && q.head == len(q.items) {
		q.cond.Wait()
	}
	if q.closed {
		return work{}, false
	}
	w := q.items[q.head]
	q.items[q.head] = work{}
	q.head++
	return w, true
}

// len returns the number of queued items.
func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close wakes every worker and makes pop return false.
func (q *workQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
