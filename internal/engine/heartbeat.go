package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// DefaultOwner names this process in run records: host name and process id.
func DefaultOwner() string {
	name, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", name, os.Getpid())
}

// Owner returns the name this engine records as the owner of the runs it
// executes.
func (e *Engine) Owner() string { return e.opts.Owner }

// beating counts a run in or out of execution, starting the heartbeat loop
// with the first and stopping it after the last.
func (e *Engine) beating(delta int) {
	e.beatMu.Lock()
	defer e.beatMu.Unlock()
	e.beatRuns += delta
	switch {
	case e.beatRuns > 0 && e.beatStop == nil:
		e.beatStop = make(chan struct{})
		go e.beat(e.beatStop)
	case e.beatRuns == 0 && e.beatStop != nil:
		close(e.beatStop)
		e.beatStop = nil
	}
}

// beat refreshes the heartbeat of this owner's running runs every
// store.HeartbeatInterval, in one store statement however many there are,
// and stops the runs whose cancel another process requested through the
// store (`herald runs cancel` without a server).
func (e *Engine) beat(stop chan struct{}) {
	t := time.NewTicker(store.HeartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), store.HeartbeatInterval())
		ids, err := e.opts.Store.Heartbeat(ctx, e.opts.Owner, e.opts.Now().UTC())
		if err != nil {
			e.opts.Logger.Warn("heartbeat failed", "error", err)
		}
		for _, id := range ids {
			v, ok := e.executing.Load(id)
			if !ok {
				continue
			}
			by := "another process"
			if run, err := e.opts.Store.GetRun(ctx, id); err == nil && run.CancelRequested != "" {
				by = run.CancelRequested
			}
			v.(*liveRun).cancel(&CanceledError{By: by})
		}
		cancel()
	}
}
