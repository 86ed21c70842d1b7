package cluster

import (
	"sync"

	"github.com/heraldhq/herald/internal/store"
)

// Bounds of handed: more than a replica's backlog between a create and the
// job's fetch, as a rule, and a few MiB of triggers and inputs however big
// they are (a webhook's body may be 1 MiB).
const (
	maxHanded      = 4096
	maxHandedBytes = 8 << 20
)

// handed keeps the runs this replica created queued for River, as their
// creates committed them, until its River worker fetches their jobs: the
// worker hands such a run to the engine (Options.ExecuteRun), which takes
// it without reading it again. The take's version check refuses a copy
// that another writer made stale (the run canceled, say), and the engine
// then reads the run, so a copy here decides nothing. A run executed by
// another replica is never taken from here; when the store is full the
// oldest runs go first. The runs' JSON values are shared with the caller
// of put, which must not change them.
type handed struct {
	mu    sync.Mutex
	runs  map[string]store.Run
	order []string // IDs, oldest first; some may be gone from runs
	bytes int      // the triggers and inputs of runs
}

// size is what a run counts against maxHandedBytes.
func size(run store.Run) int { return len(run.Trigger) + len(run.Inputs) }

// put keeps run, unless it is final or too big.
func (h *handed) put(run store.Run) {
	if run.Status.Final() || size(run) > maxHandedBytes/16 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == nil {
		h.runs = make(map[string]store.Run)
	}
	for (len(h.runs) >= maxHanded || h.bytes+size(run) > maxHandedBytes) && len(h.order) > 0 {
		h.dropLocked(h.order[0])
		h.order = h.order[1:]
	}
	if len(h.order) >= 2*maxHanded {
		// Most are taken already: keep the order of those left.
		live := make([]string, 0, len(h.runs))
		for _, id := range h.order {
			if _, ok := h.runs[id]; ok {
				live = append(live, id)
			}
		}
		h.order = live
	}
	h.dropLocked(run.ID)
	h.runs[run.ID] = run
	h.bytes += size(run)
	h.order = append(h.order, run.ID)
}

// take returns the run with the given ID and forgets it.
func (h *handed) take(id string) (store.Run, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	run, ok := h.runs[id]
	h.dropLocked(id)
	return run, ok
}

// dropLocked forgets the run with the given ID, if kept. h.mu must be held.
func (h *handed) dropLocked(id string) {
	if run, ok := h.runs[id]; ok {
		h.bytes -= size(run)
		delete(h.runs, id)
	}
}
