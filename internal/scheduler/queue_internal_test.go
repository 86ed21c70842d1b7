package scheduler

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWorkersStartOnDemandAndEnd checks that the work queue holds no idle
// workers: none until items are queued, one per item up to its bound, and
// none once the queue is empty.
func TestWorkersStartOnDemandAndEnd(t *testing.T) {
	q := newWorkQueue()
	release := make(chan struct{})
	var done atomic.Int32
	running := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.running
	}
	q.push(work{}, work{})
	require.Equal(t, 0, running(), "no worker before start")
	q.start(4, func() {
		for {
			if _, ok := q.next(); !ok {
				return
			}
			<-release
			done.Add(1)
		}
	})
	require.Equal(t, 2, running(), "one worker per item queued before start")
	q.push(work{}, work{}, work{}, work{})
	require.Equal(t, 4, running(), "no more workers than the bound")
	close(release)
	require.Eventually(t, func() bool { return done.Load() == 6 && running() == 0 }, 5*time.Second, time.Millisecond,
		"every item is worked, and the workers end with the queue empty")
	q.close()
	q.wait()
}
