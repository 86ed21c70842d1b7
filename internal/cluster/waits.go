package cluster

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/engine"
)

// waits remembers, for each run executing in this process, until when each
// of its steps (or for_each items) waits before its next attempt: the
// backoff, or a provider's Retry-After. A run interrupted at the end of a
// slice is queued again no sooner than its longest wait, so a retry never
// comes earlier than the engine meant, whichever replica makes it.
type waits struct {
	mu    sync.Mutex
	byRun map[string]map[waitKey]time.Time
}

// waitKey names a step, or one item of a for_each step.
type waitKey struct {
	step string
	item int
}

func newWaits() *waits {
	return &waits{byRun: map[string]map[waitKey]time.Time{}}
}

// observe follows an engine event.
func (w *waits) observe(ev engine.Event) {
	switch ev.Type {
	case engine.AttemptFailed:
		if ev.RetryIn <= 0 {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		m := w.byRun[ev.RunID]
		if m == nil {
			m = map[waitKey]time.Time{}
			w.byRun[ev.RunID] = m
		}
		m[waitKey{ev.StepID, ev.Item}] = ev.Time.Add(ev.RetryIn)
	case engine.ItemFinished, engine.StepFinished:
		w.mu.Lock()
		defer w.mu.Unlock()
		if m := w.byRun[ev.RunID]; m != nil {
			delete(m, waitKey{ev.StepID, ev.Item})
			if len(m) == 0 {
				delete(w.byRun, ev.RunID)
			}
		}
	case engine.RunFinished:
		w.forget(ev.RunID)
	}
}

// remaining returns how long the run's longest pending wait still lasts at
// now, zero when it has none, and forgets the run.
func (w *waits) remaining(runID string, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var until time.Time
	for _, t := range w.byRun[runID] {
		if t.After(until) {
			until = t
		}
	}
	delete(w.byRun, runID)
	if until.IsZero() || !until.After(now) {
		return 0
	}
	return until.Sub(now)
}

// forget drops what is known of a run.
func (w *waits) forget(runID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byRun, runID)
}
