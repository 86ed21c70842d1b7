package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/signallink"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/timers"
)

// newTimers returns the timers of the runs this server parks, wired to the
// engine through host options: a parked wait sets its timer, and a timer
// that fires ends its wait (timed_out) and queues the run, once, whichever
// replica fires first (the store's ResolveWait decides).
func (s *Server) newTimers(opts *Options) {
	s.timers = timers.New(s.fireWait, timers.Options{Clock: opts.WaitClock})
	opts.Host.SignalURL = func(runID, name string) string {
		if l := s.links.Load(); l != nil {
			return l.URL(runID, name)
		}
		return ""
	}
	opts.Host.OnPark = func(w store.Wait) {
		s.timers.Set(timers.Key{RunID: w.RunID, StepID: w.StepID, Item: w.Item}, w.Deadline)
		if s.cluster != nil {
			// Any replica ends the wait if this one is gone by then.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.cluster.c.ScheduleTimeout(ctx, w); err != nil {
				s.logger.Warn("could not schedule the wait's timeout in the cluster; this replica's timer still ends it", "run_id", w.RunID, "error", err)
			}
		}
	}
}

// fireWait ends a wait whose deadline came and hands its run to the runner.
func (s *Server) fireWait(ctx context.Context, k timers.Key, at time.Time) {
	if s.opts.WaitObserver != nil {
		s.opts.WaitObserver(time.Since(at))
	}
	requeued, err := s.host.Engine.ResolveTimeout(ctx, engine.WaitKey{RunID: k.RunID, StepID: k.StepID, Item: k.Item})
	if err != nil {
		s.logger.Warn("could not end a wait at its deadline; it ends when the host starts again", "run_id", k.RunID, "step", k.StepID, "error", err)
		return
	}
	if requeued {
		if err := s.resume(ctx, engine.WaitKey{RunID: k.RunID, StepID: k.StepID, Item: k.Item}); err != nil {
			s.logger.Warn("could not queue a run whose wait ended", "run_id", k.RunID, "error", err)
		}
	}
}

// loadWaits sets a timer for every pending wait in the store, as a host
// starting (or restarting after a crash) must.
func (s *Server) loadWaits(ctx context.Context) error {
	ws, ok := s.host.Store.(store.Waits)
	if !ok {
		return nil
	}
	pending, err := ws.PendingWaits(ctx)
	if err != nil {
		return fmt.Errorf("load waits: %w", err)
	}
	for _, w := range pending {
		s.timers.Set(timers.Key{RunID: w.RunID, StepID: w.StepID, Item: w.Item}, w.Deadline)
	}
	if len(pending) > 0 {
		s.logger.Info("waiting runs loaded", "waits", len(pending))
	}
	return nil
}

// resume hands a run whose wait key ended (now queued) to the runner; in
// a cluster, as a job of its own (see cluster.Wake).
func (s *Server) resume(ctx context.Context, key engine.WaitKey) error {
	run, err := s.host.Store.GetRun(ctx, key.RunID)
	if err != nil {
		return err
	}
	if run.Status != store.StatusQueued {
		return nil
	}
	if s.cluster != nil {
		return s.cluster.c.Wake(ctx, run, key)
	}
	if done := s.host.Engine.Executing(run.ID); done != nil {
		// Parked a moment ago and still ending its execution here: a job
		// queued now would find it executing and be dropped.
		go func() {
			<-done
			if err := s.runner.resubmit(context.WithoutCancel(ctx), run); err != nil {
				s.logger.Warn("could not queue a run whose wait ended", "run_id", run.ID, "error", err)
			}
		}()
		return nil
	}
	return s.runner.resubmit(ctx, run)
}

// deliverToWaits offers a provider event to the runs waiting for it and
// queues those it resumed.
func (s *Server) deliverToWaits(ctx context.Context, instance, eventType string, data json.RawMessage) error {
	keys, err := s.host.Engine.DeliverEvent(ctx, instance, eventType, data)
	for _, k := range keys {
		if rerr := s.resume(ctx, k); rerr != nil {
			return rerr
		}
	}
	return err
}

// openSignalLinks prepares the signer of the signal links when the server
// has a public URL. The key is HERALD_SIGNAL_KEY, else a key generated once
// in signal.key beside the SQLite store (or in the project directory).
func (s *Server) openSignalLinks() error {
	if s.opts.PublicURL == "" {
		return nil
	}
	dir := s.opts.Host.Dir
	if p, ok := s.host.Store.(interface{ Path() string }); ok {
		dir = filepath.Dir(p.Path())
	}
	key, err := signallink.LoadKey(dir)
	if err != nil {
		return fmt.Errorf("signal links: %w", err)
	}
	l, err := signallink.New(key, s.opts.PublicURL)
	if err != nil {
		return fmt.Errorf("signal links: %w", err)
	}
	s.links.Store(l)
	return nil
}

// SignalLinks returns the signer of the signal links, nil when the server
// has no public URL; the HTTP API serves the links with it.
func (s *Server) SignalLinks() *signallink.Signer { return s.links.Load() }
