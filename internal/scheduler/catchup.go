package scheduler

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store"
)

// resume reads the stored state of entries and catches up on the fires they
// missed before start, when Run started. A fire after start that came due
// while the states were being read is handed over by the loop as a regular,
// late fire.
func (s *Scheduler) resume(ctx context.Context, entries []*entry, start time.Time) error {
	for _, e := range entries {
		st, err := s.opts.Store.CronState(ctx, e.Workflow, e.Key)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			if ctx.Err() != nil {
				return nil // stopping
			}
			return fmt.Errorf("load cron state of workflow %q trigger %s: %w", e.Workflow, e.Key, err)
		}
		leader := s.isLeader()

		s.mu.Lock()
		if e.removed || !e.resume {
			s.mu.Unlock()
			continue
		}
		e.resume = false
		var items []work
		switch {
		case !leader || !found || st.Next.IsZero():
			e.next, _ = e.sched.next(start)
			if leader {
				s.markDirty(e)
			}
		case st.Next.After(start):
			e.last, e.next = st.Last, st.Next.In(e.sched.loc)
			// A next fire later than the schedule allows comes from a clock
			// that ran ahead; never wait past the schedule's own next fire.
			if n, _ := e.sched.next(start); !n.IsZero() && n.Before(e.next) {
				e.next = n
			}
		default:
			e.last = st.Last
			m := e.sched.missed(st.Next, start, s.keep(e))
			items = s.catchUp(items, e, m, "while no host ran")
			e.next = m.next
			s.markDirty(e)
		}
		if !e.next.IsZero() {
			heap.Push(&s.heap, e)
		}
		s.mu.Unlock()
		s.queue.push(items...)
		signal(s.wake)
	}
	return nil
}

// keep returns how many missed fires e's catchup policy runs.
func (s *Scheduler) keep(e *entry) int {
	switch e.Trigger.Catchup {
	case config.CatchupLatest:
		return 1
	case config.CatchupAll:
		return s.opts.MaxCatchup
	}
	return 0
}

// catchUp appends the missed fires m keeps to items, and logs and counts
// those it drops; s.mu must be held.
func (s *Scheduler) catchUp(items []work, e *entry, m missedFires, why string) []work {
	if m.total == 0 {
		return items
	}
	policy := cmp.Or(e.Trigger.Catchup, config.CatchupSkip)
	count := fmt.Sprint(m.total)
	if !m.exact {
		count = "more than " + count
	}
	log := s.log.With("workflow", e.Workflow, "trigger", e.Key, "catchup", string(policy), "missed", count)
	if len(m.kept) > 0 {
		log = log.With("first_run", m.kept[0], "last_run", m.kept[len(m.kept)-1])
	}
	switch {
	case len(m.kept) == 0:
		log.Info("skipping fires missed " + why)
	case policy == config.CatchupAll && m.dropped() > 0:
		log.Warn("running the newest fires missed "+why+"; dropping older ones beyond the catch-up cap",
			"running", len(m.kept), "max_catchup", s.opts.MaxCatchup)
	default:
		log.Info("running fires missed "+why, "running", len(m.kept))
	}
	if dropped := m.dropped(); dropped > 0 {
		reason := MissCatchup
		if policy == config.CatchupAll {
			reason = MissCapped
		}
		s.obs.Missed(e.Workflow, e.Key, reason, dropped)
	}
	room := s.opts.MaxQueued - s.queue.len()
	for _, at := range m.kept {
		items = s.enqueue(items, room, e, Due{Workflow: e.Workflow, TriggerKey: e.Key, ScheduledTime: at, Catchup: true})
	}
	return items
}
