package sqlitestore

import (
	"encoding/json"
	"sync"

	"github.com/heraldhq/herald/internal/store"
)

// maxCachedRuns bounds the run cache. A run stays in it from creation until
// it ends, so the bound is on runs in flight; past it, UpdateRun reads.
const maxCachedRuns = 4096

// runCache remembers the runs this Store created or updated last, with their
// version, so UpdateRun can skip its read. It never decides anything: the
// update's WHERE version = ? still guards every write, and a run changed by
// another process (the version moved on) is dropped and read again. A run
// leaves the cache when it reaches a final status, the last update a run
// normally gets.
type runCache struct {
	mu   sync.Mutex
	runs map[string]cachedRun
}

type cachedRun struct {
	run     store.Run
	version int64
}

func newRunCache() *runCache { return &runCache{runs: map[string]cachedRun{}} }

// get returns the cached run and its version. Its JSON values are the
// cache's own: the caller must not change them.
func (c *runCache) get(id string) (store.Run, int64, bool) {
	c.mu.Lock()
	cr, ok := c.runs[id]
	c.mu.Unlock()
	return cr.run, cr.version, ok
}

// put caches a copy of run at version, or forgets it once it is final.
func (c *runCache) put(run store.Run, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if run.Status.Final() {
		delete(c.runs, run.ID)
		return
	}
	if _, ok := c.runs[run.ID]; !ok && len(c.runs) >= maxCachedRuns {
		return
	}
	c.runs[run.ID] = cachedRun{run: copyRun(run), version: version}
}

// drop forgets the run with the given ID.
func (c *runCache) drop(id string) {
	c.mu.Lock()
	delete(c.runs, id)
	c.mu.Unlock()
}

// copyRun returns run with its JSON values copied, so no caller shares
// bytes with the cache.
func copyRun(run store.Run) store.Run {
	run.Trigger = append(json.RawMessage(nil), run.Trigger...)
	run.Inputs = append(json.RawMessage(nil), run.Inputs...)
	return run
}
