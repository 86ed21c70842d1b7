package scheduler

import "sync"

// work is one fire waiting for a worker.
type work struct {
	e   *entry
	due Due
}

// workQueue is the FIFO between the loop and the workers. It never blocks the
// loop; its length is bounded by the caller. Workers are goroutines started
// on demand: push starts one per item queued while fewer than the queue's
// workers run, and a worker ends when it finds the queue empty, so a
// scheduler with no fire due holds none.
type workQueue struct {
	mu      sync.Mutex
	items   []work
	head    int
	closed  bool
	max     int    // the most workers at once; 0 until start
	running int    // workers started and not ended
	work    func() // a worker's body: it calls next until false
	wg      sync.WaitGroup
}

func newWorkQueue() *workQueue {
	return &workQueue{}
}

// start lets up to max workers run body, starting them for the items
// queued so far. body must call next until it returns false.
func (q *workQueue) start(max int, body func()) {
	q.mu.Lock()
	q.max, q.work = max, body
	q.spawnLocked(len(q.items) - q.head)
	q.mu.Unlock()
}

// spawnLocked starts up to n workers, within the queue's bound; q.mu is
// held.
func (q *workQueue) spawnLocked(n int) {
	if q.closed || q.work == nil {
		return
	}
	n = min(n, q.max-q.running)
	for range n {
		q.running++
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.work()
		}()
	}
}

// push appends items and starts workers for them.
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
	q.spawnLocked(len(items))
	q.mu.Unlock()
}

// pop returns the oldest item; false when the queue is empty or closed.
// Items still queued at close are left.
func (q *workQueue) pop() (work, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.popLocked()
}

func (q *workQueue) popLocked() (work, bool) {
	if q.closed || q.head == len(q.items) {
		return work{}, false
	}
	w := q.items[q.head]
	q.items[q.head] = work{}
	q.head++
	return w, true
}

// next is pop for a worker: on false the worker must end, and it is no
// longer counted as running.
func (q *workQueue) next() (work, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w, ok := q.popLocked()
	if !ok {
		q.running--
	}
	return w, ok
}

// len returns the number of queued items.
func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close makes pop and next return false and starts no more workers.
func (q *workQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// wait returns when every worker has ended; call it after close.
func (q *workQueue) wait() { q.wg.Wait() }
