package pgstore

import (
	"encoding/json"
	"sync"

	"github.com/heraldhq/herald/internal/store"
)

// maxCachedRuns bounds the runs a runCache holds: more than the runs one
// process executes at once (cluster.DefaultWorkers), few enough that their
// triggers stay small beside the rest of the process.
const maxCachedRuns = 1024

// runCache keeps the last row this process read or wrote of each unfinished
// run, with its version, so that a write that updates a run (updateRun)
// need not read it first: the write carries the version it was computed
// from and fails, writing nothing, when the stored run has moved on, and is
// then made again from a fresh read. The cache is a guess, never an answer:
// reads (GetRun) always go to the database, and a stale entry costs one
// wasted round trip. This holds because every statement that changes a run
// row's columns raises its version, except the heartbeat, which
// updateRunSQL keeps with GREATEST.
//
// The cached runs own their trigger and input bytes: nothing the cache
// hands out shares them.
type runCache struct {
	mu   sync.Mutex
	runs map[string]cachedRun
}

// cachedRun is a run as stored at version.
type cachedRun struct {
	run     store.Run
	version int64
}

// get returns the cached run with the given id and its version. The run's
// byte slices are the cache's own: the caller copies them before it lets
// them out.
func (c *runCache) get(id string) (store.Run, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.runs[id]
	return e.run, e.version, ok
}

// put records run as stored at version, unless an entry of a later version
// is there. A final run is dropped instead: it is rarely written again.
// owned says the run's byte slices may be kept as they are; otherwise they
// are copied.
func (c *runCache) put(run store.Run, version int64, owned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if run.Status.Final() {
		delete(c.runs, run.ID)
		return
	}
	if e, ok := c.runs[run.ID]; ok && e.version > version {
		return
	}
	if c.runs == nil {
		c.runs = make(map[string]cachedRun)
	}
	if _, ok := c.runs[run.ID]; !ok && len(c.runs) >= maxCachedRuns {
		for id := range c.runs { // an arbitrary entry: map order is random
			delete(c.runs, id)
			break
		}
	}
	if !owned {
		run.Trigger = append(json.RawMessage(nil), run.Trigger...)
		run.Inputs = append(json.RawMessage(nil), run.Inputs...)
	}
	c.runs[run.ID] = cachedRun{run: run, version: version}
}

// drop forgets the run with the given id.
func (c *runCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.runs, id)
}
