// Package retention deletes the finished runs older than the retention
// (HERALD_RETENTION, `herald serve --retention`, default 30 days) with
// everything they hold, in small batches that never hold the store for long,
// and gives the space back (SQLite: incremental vacuum and a truncating WAL
// checkpoint; PostgreSQL: its autovacuum). It owns the schedule and the
// batching; the store owns the SQL (store.Store.PruneRuns and the optional
// store.Maintainer). It never touches a run that has not ended.
package retention

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/store"
)

// Default is the retention when none is configured.
const Default = 30 * 24 * time.Hour

// Defaults of a Pruner.
const (
	// DefaultBatch is how many runs one prune transaction deletes: small
	// enough that a webhook's write never waits long behind it.
	DefaultBatch = 50
	// DefaultPause is the pause between two batches, which leaves the
	// store to other writers.
	DefaultPause = 20 * time.Millisecond
	// DefaultInterval is how often Run prunes.
	DefaultInterval = time.Hour
)

// Parse reads a retention: a Go duration ("720h", "90m") or a number of
// days ("30d"); "0" keeps every run.
func Parse(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("retention %q: want a number of days such as 30d, a duration such as 720h, or 0", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: want a number of days such as 30d, a duration such as 720h, or 0", s)
	}
	return d, nil
}

// FromEnv returns HERALD_RETENTION parsed, or Default when it is unset.
func FromEnv() (time.Duration, error) {
	s := os.Getenv("HERALD_RETENTION")
	if s == "" {
		return Default, nil
	}
	d, err := Parse(s)
	if err != nil {
		return 0, fmt.Errorf("HERALD_RETENTION: %w", err)
	}
	return d, nil
}

// Observer receives what a Pruner did, for metrics.
type Observer interface {
	// RunsPruned counts runs deleted.
	RunsPruned(n int64)
	// StoreSize reports the store's size in bytes.
	StoreSize(bytes int64)
}

// WaitObserver is an Observer that also records how long callers wait on
// the store for a write (herald_store_wait_seconds). Run hands it to a store
// that reports its waits (SQLite's), so the waits the pruning causes to
// webhooks' writes show beside those it does not.
type WaitObserver interface {
	StoreWait(op string, d time.Duration)
}

// waitReporter is a store that reports its writes' waits.
type waitReporter interface {
	ObserveWaits(fn func(op string, d time.Duration))
}

// heldReporter is a store with a single writer (SQLite's) whose PruneRuns
// also reports how long its transactions held that writer, without the
// time they queued for it behind other writes.
type heldReporter interface {
	PruneRunsHeld(ctx context.Context, cutoff time.Time, limit int) (int64, time.Duration, error)
}

// Pruner deletes the runs older than its retention.
type Pruner struct {
	// Store is pruned; when it is a store.Maintainer its space is given
	// back and its size reported.
	Store store.Store
	// Retention is how long finished runs are kept; zero keeps them all.
	Retention time.Duration
	// Batch, Pause and Interval default to DefaultBatch, DefaultPause and
	// DefaultInterval.
	Batch    int
	Pause    time.Duration
	Interval time.Duration
	// Logger and Observer are optional.
	Logger   hclog.Logger
	Observer Observer
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

func (p *Pruner) defaults() {
	if p.Batch <= 0 {
		p.Batch = DefaultBatch
	}
	if p.Pause <= 0 {
		p.Pause = DefaultPause
	}
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
	if p.Logger == nil {
		p.Logger = hclog.NewNullLogger()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
}

// SlowWait is the store wait (and the time one step of the store's own
// maintenance took) that Run logs at debug level, as "slow store write"
// with the operation and the time, so a slow write can be put beside what
// the store and the machine did then.
const SlowWait = 100 * time.Millisecond

// observeWait returns the function that receives the store's waits: it
// hands them to o, when not nil, and logs those over SlowWait.
func (p *Pruner) observeWait(o WaitObserver) func(op string, d time.Duration) {
	return func(op string, d time.Duration) {
		if o != nil {
			o.StoreWait(op, d)
		}
		if d > SlowWait {
			p.Logger.Debug("slow store write", "op", op, "took", d)
		}
	}
}

// Prune deletes the finished runs created and finished more than olderThan
// ago, batch by batch with a pause between batches (Pause, or as long as
// the batch held the store when that is longer), then compacts the
// store, and reports how many runs it deleted. olderThan must be positive.
func (p *Pruner) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	p.defaults()
	if olderThan <= 0 {
		return 0, fmt.Errorf("%w: prune: the age must be positive", store.ErrInvalid)
	}
	cutoff := p.Now().Add(-olderThan)
	var total int64
	for {
		n, held, err := p.pruneBatch(ctx, cutoff)
		// The pause is at least as long as the batch held the store: on
		// a slow disk, where commits take long, pruning still leaves the
		// store to other writers at least half of the time.
		pause := max(p.Pause, held)
		total += n
		if n > 0 && p.Observer != nil {
			p.Observer.RunsPruned(n)
		}
		if err != nil {
			return total, err
		}
		if n < int64(p.Batch) {
			break
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pause):
		}
	}
	if m, ok := p.Store.(store.Maintainer); ok {
		if total > 0 {
			p.Logger.Info("pruned old runs; compacting the store", "runs", total)
			if err := m.Compact(ctx); err != nil {
				return total, err
			}
		}
		if p.Observer != nil {
			if size, err := m.Size(ctx); err == nil {
				p.Observer.StoreSize(size)
			}
		}
	}
	return total, nil
}

// pruneBatch deletes one batch and returns how long it held the store:
// the time its transactions held the writer, as the store reports it, not
// the time they queued for it behind webhooks' writes (the store was
// theirs meanwhile; on a loaded machine, at a load average of 30 on 2
// CPUs, that queueing was 40% of each call, and counting it in the pause
// too made the pruning 25% slower); for a store that does not report it,
// the time the batch took.
func (p *Pruner) pruneBatch(ctx context.Context, cutoff time.Time) (int64, time.Duration, error) {
	if h, ok := p.Store.(heldReporter); ok {
		return h.PruneRunsHeld(ctx, cutoff, p.Batch)
	}
	start := time.Now()
	n, err := p.Store.PruneRuns(ctx, cutoff, p.Batch)
	return n, time.Since(start), err
}

// Run prunes with the configured retention now and then every Interval
// until ctx ends. With a zero retention it only reports the store's size.
// While it runs, an Observer that is a WaitObserver receives the store's
// write waits, and those over SlowWait are logged at debug level.
func (p *Pruner) Run(ctx context.Context) {
	p.defaults()
	if r, ok := p.Store.(waitReporter); ok {
		o, _ := p.Observer.(WaitObserver)
		r.ObserveWaits(p.observeWait(o))
		defer r.ObserveWaits(nil)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.Retention > 0 {
			start := time.Now()
			n, err := p.Prune(ctx, p.Retention)
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				p.Logger.Warn("pruning old runs failed", "error", err, "pruned", n)
			case n > 0:
				p.Logger.Info("pruned old runs", "runs", n, "retention", p.Retention, "took", time.Since(start).Round(time.Millisecond))
			}
		} else if m, ok := p.Store.(store.Maintainer); ok && p.Observer != nil {
			if size, err := m.Size(ctx); err == nil {
				p.Observer.StoreSize(size)
			}
		}
		t.Reset(p.Interval)
	}
}
