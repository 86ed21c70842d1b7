package scheduler

import (
	"context"
	"slices"
)

// work runs queued fires until the queue is empty or closed.
func (s *Scheduler) work(ctx context.Context) {
	for {
		w, ok := s.queue.next()
		if !ok {
			return
		}
		s.fire(ctx, w)
	}
}

// fire hands w over, retrying a failing Fire with doubling backoff. A fire
// that ctx interrupts stays in flight, so the state written at shutdown
// points at it and the next start catches it up.
func (s *Scheduler) fire(ctx context.Context, w work) {
	d := w.due
	delay := s.opts.RetryDelay
	s.obs.Fired(d, s.clock.Now().Sub(d.ScheduledTime))
	for attempt := 1; ; attempt++ {
		err := s.opts.Fire(ctx, d)
		switch {
		case err == nil:
			s.finish(w, true)
			return
		case ctx.Err() != nil:
			s.log.Info("fire not handed over before shutdown; the next start catches it up",
				"workflow", d.Workflow, "trigger", d.TriggerKey, "scheduled", d.ScheduledTime, "error", err)
			return
		case attempt >= s.opts.FireAttempts:
			s.log.Error("fire failed; giving up", "workflow", d.Workflow, "trigger", d.TriggerKey,
				"scheduled", d.ScheduledTime, "attempts", attempt, "error", err)
			s.obs.Missed(d.Workflow, d.TriggerKey, MissFailed, 1)
			s.finish(w, false)
			return
		}
		s.log.Warn("fire failed; retrying", "workflow", d.Workflow, "trigger", d.TriggerKey,
			"scheduled", d.ScheduledTime, "attempt", attempt, "retry_in", delay, "error", err)
		if !sleep(s.clock, ctx.Done(), delay) {
			return
		}
		delay *= 2
	}
}

// finish records that w's fire is no longer in flight: handed over when ok,
// given up otherwise.
func (s *Scheduler) finish(w work, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, at := w.e, w.due.ScheduledTime
	if i := slices.IndexFunc(e.inflight, at.Equal); i >= 0 {
		e.inflight = slices.Delete(e.inflight, i, i+1)
	}
	if ok && at.After(e.last) {
		e.last = at
	}
	if !e.removed {
		s.markDirty(e)
	}
}
