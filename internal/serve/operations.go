package serve

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// cancelWait bounds how long CancelRun waits for a run executing here to
// end, so the caller hears back within a second even when a plugin hangs
// (its call is cancelled; the run ends right after).
const cancelWait = 900 * time.Millisecond

// RetryRun continues a failed, canceled or needs_attention run from
// fromStep and hands it to the runner. It implements httpapi.Runtime.
func (s *Server) RetryRun(ctx context.Context, id, fromStep, by string) error {
	run, err := s.host.Engine.Retry(ctx, id, fromStep, by)
	if err != nil {
		return err
	}
	return s.runner.resubmit(ctx, run)
}

// CancelRun stops a queued, running, waiting or needs_attention run. It
// implements httpapi.Runtime.
func (s *Server) CancelRun(ctx context.Context, id, by string) error {
	_, err := s.host.Engine.Cancel(ctx, id, by, cancelWait)
	return err
}

// ResolveRun settles the in-doubt attempt of a needs_attention run and hands
// the run to the runner. It implements httpapi.Runtime.
func (s *Server) ResolveRun(ctx context.Context, id, step string, item int, sent bool, by string) error {
	run, err := s.host.Engine.Resolve(ctx, id, step, item, sent, by)
	if err != nil {
		return err
	}
	return s.runner.resubmit(ctx, run)
}

// SignalRun delivers a signal to a waiting run. It implements
// httpapi.Runtime.
func (s *Server) SignalRun(ctx context.Context, id, name string, data json.RawMessage, by string) error {
	key, requeued, err := s.host.Engine.Signal(ctx, id, name, data, by)
	if err != nil || !requeued {
		return err
	}
	return s.resume(ctx, key)
}

// resubmit queues a run an operator moved back to queued on this host's
// dispatcher.
func (l *localRunner) resubmit(ctx context.Context, run store.Run) error {
	if err := l.disp.admit(ctx, run.Workflow, l.wait); err != nil {
		return err
	}
	l.disp.enqueue(job{id: run.ID, workflow: run.Workflow})
	return nil
}

// resubmit queues a job for a run an operator moved back to queued; any
// replica may take it.
func (r *clusterRunner) resubmit(ctx context.Context, run store.Run) error {
	return r.c.Resubmit(ctx, run)
}
