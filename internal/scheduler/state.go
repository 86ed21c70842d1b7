package scheduler

import (
	"context"

	"github.com/heraldhq/herald/internal/store"
)

// writeStates writes the state of triggers as it changes, until ctx ends.
// Changes that arrive while a write is in progress are merged, so a slow
// store sees one write per trigger however often it fires.
func (s *Scheduler) writeStates(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stateWake:
		}
		for !s.flush(ctx) {
			if !sleep(s.clock, ctx.Done(), s.opts.RetryDelay) {
				return
			}
		}
	}
}

// pendingState is a state about to be written.
type pendingState struct {
	e  *entry
	st store.CronState
}

// flush writes the state of every changed trigger and reports whether all
// writes succeeded; the triggers it could not write stay changed.
func (s *Scheduler) flush(ctx context.Context) bool {
	s.mu.Lock()
	batch := make([]pendingState, 0, len(s.dirty))
	for e := range s.dirty {
		batch = append(batch, pendingState{e: e, st: e.state()})
	}
	clear(s.dirty)
	s.mu.Unlock()

	for i, p := range batch {
		err := s.opts.Store.SetCronState(ctx, p.st)
		if err == nil {
			continue
		}
		if ctx.Err() == nil {
			s.log.Warn("could not write cron state; retrying", "workflow", p.st.Workflow, "trigger", p.st.Trigger, "error", err)
		}
		s.mu.Lock()
		for _, q := range batch[i:] {
			if !q.e.removed {
				s.dirty[q.e] = struct{}{}
			}
		}
		s.mu.Unlock()
		return false
	}
	return true
}
