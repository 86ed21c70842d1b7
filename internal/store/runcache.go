package store

import (
	"encoding/json"
	"sync"
)

// MaxCachedRuns bounds a RunCache: well above the runs one process
// executes at once, few enough that their triggers stay small beside the
// rest of the process.
const MaxCachedRuns = 4096

// RunCache is a store implementation's memory of the runs it last read or
// wrote, each with the version it had then, so that an optimistic
// UpdateRun can skip its read: the write carries the version it was
// computed from, writes nothing when the stored run moved on, and is then
// made again from a fresh read. It never answers a read (GetRun reads the
// database) and never decides anything: a stale entry costs one wasted
// write. That holds only when every write that changes a run's row moves
// its version on.
//
// A run leaves the cache when it ends (its last update, as a rule) or,
// when the cache is full, to make room for another. The cached runs own
// their JSON values: Put copies them, and what Get returns must not be
// changed. The zero RunCache is ready to use.
type RunCache struct {
	mu   sync.Mutex
	runs map[string]cachedRun
}

// cachedRun is a run as stored at version.
type cachedRun struct {
	run     Run
	version int64
}

// Get returns the cached run with the given ID and its version. Its JSON
// values are the cache's own: the caller copies them before changing them
// or letting them out.
func (c *RunCache) Get(id string) (Run, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.runs[id]
	return e.run, e.version, ok
}

// Put caches a copy of run as stored at version, unless the cache holds a
// later version of it; a final run is forgotten instead.
func (c *RunCache) Put(run Run, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if run.Status.Final() {
		delete(c.runs, run.ID)
		return
	}
	e, ok := c.runs[run.ID]
	switch {
	case ok && e.version > version:
		return
	case c.runs == nil:
		c.runs = make(map[string]cachedRun)
	case !ok && len(c.runs) >= MaxCachedRuns:
		for id := range c.runs { // an arbitrary entry: map order is random
			delete(c.runs, id)
			break
		}
	}
	run.Trigger = append(json.RawMessage(nil), run.Trigger...)
	run.Inputs = append(json.RawMessage(nil), run.Inputs...)
	c.runs[run.ID] = cachedRun{run: run, version: version}
}

// Drop forgets the run with the given ID.
func (c *RunCache) Drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.runs, id)
}

// Len returns how many runs the cache holds.
func (c *RunCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.runs)
}
