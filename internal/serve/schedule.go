package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/scheduler"
)

// leaderPoll is how often a cluster replica checks whether it gained or
// lost River's leadership.
const leaderPoll = 100 * time.Millisecond

// schedulers holds the scheduler a Server fires cron triggers with. A
// single host has one for its whole life. A cluster replica builds a new
// one each time River elects it leader and runs it for that term only: a
// scheduler loads every trigger's stored state when it starts, so fires
// that came due while no replica led (the whole cluster was down, or the
// previous leader died) follow the trigger's catchup policy, as they do
// when a single host starts.
type schedulers struct {
	mu  sync.Mutex
	cur *scheduler.Scheduler
}

// current returns the scheduler of the current term (or the standby one).
func (s *schedulers) current() *scheduler.Scheduler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// newScheduler builds a scheduler for the project served now.
func (s *Server) newScheduler() (*scheduler.Scheduler, error) {
	sched, err := scheduler.New(scheduler.Options{
		Store:    s.host.Store,
		Fire:     s.fire,
		Logger:   s.logger.Named("scheduler"),
		Observer: s.opts.SchedulerObserver,
		IsLeader: s.runner.leader,
	})
	if err != nil {
		return nil, err
	}
	if err := sched.Load(s.Project()); err != nil {
		return nil, err
	}
	return sched, nil
}

// runScheduler fires cron triggers until ctx ends: always on a single
// host, during each leadership term on a cluster replica.
func (s *Server) runScheduler(ctx context.Context) error {
	if s.cluster == nil {
		return s.scheds.current().Run(ctx)
	}
	for {
		if !s.waitLeader(ctx, true) {
			return nil
		}
		// Built under the lock Reload takes, so it loads the project that
		// is served when it starts, and Reload then loads into it.
		s.scheds.mu.Lock()
		sched, err := s.newScheduler()
		if err == nil {
			s.scheds.cur = sched
		}
		s.scheds.mu.Unlock()
		if err != nil {
			return err
		}
		s.logger.Info("leading the cluster: firing cron triggers, catching up what no replica fired")
		termCtx, endTerm := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sched.Run(termCtx) }()
		s.waitLeader(ctx, false)
		endTerm()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Warn("scheduler stopped with an error", "error", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Info("no longer leading the cluster: another replica fires cron triggers")
	}
}

// waitLeader waits until this replica's leadership is lead and reports
// whether it is; false means ctx ended first.
func (s *Server) waitLeader(ctx context.Context, lead bool) bool {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for s.runner.leader() != lead {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
