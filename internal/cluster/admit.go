package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultMaxQueued bounds the runs queued across the cluster and not yet
// started, unless Options.MaxQueued says otherwise.
const DefaultMaxQueued = 10_000

// ErrFull is returned by Admit when the cluster's queue stayed full for
// the whole wait.
var ErrFull = errors.New("the cluster's run queue is full")

// depthTTL is how long a replica trusts the queue depth it last read.
const depthTTL = 100 * time.Millisecond

// depth caches the number of runs waiting in the queue.
type depth struct {
	mu   sync.Mutex
	n    int
	read time.Time
}

// Admit waits until the cluster's queue has room for one more run: fewer
// than Options.MaxQueued runs waiting to start, counted across every
// replica (River's available jobs) and in this replica's overflow queue. It waits at most wait, then returns ErrFull, so that a trigger
// arriving faster than the replicas execute runs is refused (HTTP 503)
// instead of growing the queue without bound. The depth is read at most
// every 100 ms per replica, so the bound is approximate.
func (c *Cluster) Admit(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		n, err := c.queued(ctx)
		if err != nil {
			return err
		}
		n += c.Overflowed()
		if n < c.opts.MaxQueued {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d runs wait to start", ErrFull, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(depthTTL):
		}
	}
}

// queued returns the number of runs waiting to start, at most depthTTL
// old.
func (c *Cluster) queued(ctx context.Context) (int, error) {
	d := &c.depth
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.read) < depthTTL {
		return d.n, nil
	}
	table := pgx.Identifier{c.opts.Store.Schema(), "river_job"}.Sanitize()
	if err := c.opts.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE state = 'available' AND queue = $1`,
		Queue).Scan(&d.n); err != nil {
		return 0, fmt.Errorf("read the run queue's depth: %w", err)
	}
	d.read = time.Now()
	return d.n, nil
}
