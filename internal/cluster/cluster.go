package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// Defaults of Options.
const (
	// DefaultSlice is how long a replica executes a run before it
	// checkpoints and hands the run back to the queue.
	DefaultSlice = 30 * time.Second
	// DefaultWorkers bounds the runs one replica executes at once. It is
	// larger than a single host's default (64): a replica's worker mostly
	// waits on PostgreSQL's commits and on the providers, and with 64 a
	// busy replica's closed loop left its backlog queued rather than
	// executing (session 10, bench/README.md).
	DefaultWorkers = 256
	// LeaseMargin is added to a run's slice and its longest attempt timeout
	// to make the job's lease: the time after which River may rescue the
	// job from a replica that stopped answering.
	LeaseMargin = 5 * time.Second
	// LimitPoll is how long a run that found its workflow at the concurrency
	// limit waits before it tries again.
	LimitPoll = time.Second
)

// Options configure a Cluster.
type Options struct {
	// Store is the PostgreSQL store; River shares its pool and schema.
	// Required.
	Store *pgstore.Store
	// Execute runs or resumes a run until it ends or ctx ends (the engine's
	// Execute). Set it before Start; required by then.
	Execute func(ctx context.Context, runID string) (store.Run, error)
	// ExecuteRun, when set, executes a run as its creator was handed it
	// (the engine's ExecuteRun): the River worker uses it for a run this
	// replica created, which then costs no read. nil reads every run.
	ExecuteRun func(ctx context.Context, run store.Run) (store.Run, error)
	// ExecuteNew executes a run not stored yet (the engine's ExecuteNew),
	// for StartEager; nil sends every run through River.
	ExecuteNew func(ctx context.Context, a engine.Admission) (store.Run, error)
	// Skip ends a queued run as skipped with a reason (the engine's Skip).
	// Set it before Start; required by then.
	Skip func(ctx context.Context, runID, reason string) (store.Run, error)
	// Project returns the project served now. Set it before Start; required
	// by then.
	Project func() *config.Project
	// ResolveTimeout ends a wait at its deadline (the engine's
	// ResolveTimeout), for the timeout jobs ScheduleTimeout queues.
	ResolveTimeout func(ctx context.Context, key engine.WaitKey) (requeued bool, err error)
	// Owner names this process in run records.
	Owner string
	// Workers bounds the runs this process executes at once, River's
	// jobs and the runs it executes where they were admitted together;
	// DefaultWorkers when zero.
	Workers int
	// Slice is how long this process executes a run before it checkpoints
	// and queues the run again; DefaultSlice when zero. Shorter slices make
	// a dead replica's runs resume sooner and cost a reload of the run's
	// records per slice.
	Slice time.Duration
	// MaxQueued bounds the runs queued across the cluster and not yet
	// started, as Admit enforces it; DefaultMaxQueued when zero.
	MaxQueued int
	// MaxOverflow bounds the runs this process queues in memory when
	// StartEager finds no free worker (see overflow): 64 per worker when
	// zero, none when negative (each such run goes through River).
	MaxOverflow int
	// Logger receives the cluster's logs and River's; nil discards them.
	Logger hclog.Logger
}

// Cluster executes runs as River jobs. Create it with New, hand Store to the
// host, then Start it.
type Cluster struct {
	opts   Options
	log    hclog.Logger
	client *river.Client[pgx.Tx]
	store  *Store
	waits  *waits
	depth  depth
	eager  eager
	// handed keeps the runs created here for River, for its worker.
	handed handed

	// term is the River leadership term this process holds, zero when it
	// does not lead; lastTerm numbers the terms it was elected for.
	term     atomic.Int64
	lastTerm atomic.Int64
	// stopping is closed by Stop: executing runs checkpoint.
	stopping chan struct{}
	stopOnce sync.Once
	started  atomic.Bool
}

// New prepares a cluster on opts.Store. It does not migrate; call Migrate
// first.
func New(opts Options) (*Cluster, error) {
	if opts.Store == nil {
		return nil, errors.New("cluster: a postgres store is required")
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Slice <= 0 {
		opts.Slice = DefaultSlice
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = DefaultMaxQueued
	}
	if opts.MaxOverflow == 0 {
		opts.MaxOverflow = overflowPerWorker * opts.Workers
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	c := &Cluster{opts: opts, log: opts.Logger, waits: newWaits(), stopping: make(chan struct{})}
	c.store = newStore(opts.Store, c)
	c.initEager()

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &runWorker{c: c}); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &timeoutWorker{c: c}); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &batchWorker{c: c}); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(opts.Store.Pool()), &river.Config{
		ID:      clientID(opts.Owner),
		Queues:  map[string]river.QueueConfig{Queue: {MaxWorkers: opts.Workers}},
		Workers: workers,
		Schema:  opts.Store.Schema(),
		Logger:  newSlogger(opts.Logger.Named("river")),
		// The worker gives every run's job its own lease (see lease), which
		// River's rescuer honours; these client-wide values are its floor.
		JobTimeout:           opts.Slice + LeaseMargin,
		RescueStuckJobsAfter: opts.Slice + LeaseMargin + time.Second,
		RetryPolicy:          retryPolicy{},
		MaxAttempts:          MaxAttempts,
		// A run's job waits for the next fetch, which new jobs' notifications
		// trigger at most once per cooldown (and River notifies at most that
		// often): 5 ms against 20 ms made BenchmarkClusterRuns 1.6× faster
		// for the same CPU per run, River's own round trips 0.14 → 0.30 per
		// run (bench/README.md).
		FetchCooldown: 5 * time.Millisecond,
		Hooks:         []rivertype.Hook{river.HookPeriodicJobsStartFunc(c.elected)},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: river client: %w", err)
	}
	c.client = client
	return c, nil
}

// Store returns the store to run the host on: the PostgreSQL store whose
// CreateRun also enqueues the run's job.
func (c *Cluster) Store() *Store { return c.store }

// Workers returns the runs this replica executes at once: Options.Workers,
// or DefaultWorkers when that was zero.
func (c *Cluster) Workers() int { return c.opts.Workers }

// Client returns the River client, for inspection.
func (c *Cluster) Client() *river.Client[pgx.Tx] { return c.client }

// Start starts executing runs and taking part in leader election. It returns
// once River has started; the work goes on until Stop.
func (c *Cluster) Start(ctx context.Context) error {
	if c.opts.Execute == nil || c.opts.Skip == nil || c.opts.Project == nil {
		return errors.New("cluster: Execute, Skip and Project must be set before Start")
	}
	// River stops softly when its start context ends; Stop does that.
	if err := c.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	c.started.Store(true)
	c.log.Info("cluster started", "river_client", c.client.ID(), "schema", c.opts.Store.Schema(),
		"workers", c.opts.Workers, "slice", c.opts.Slice)
	return nil
}

// Stop stops taking runs: runs executing here checkpoint after the attempts
// in flight (recorded as usual) and go back to the queue, at once available
// to the other replicas. It waits for that until ctx ends, then cancels what
// is left; River's rescue hands those to another replica after their lease.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stopping) })
	if !c.started.Load() {
		return nil
	}
	c.stopEager(ctx)
	err := c.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		c.log.Warn("runs still executing after the shutdown grace; cancelling them", "error", err)
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = c.client.StopAndCancel(cancelCtx)
	}
	// River has resigned; the term ends now, not when the goroutine that
	// watches its context gets to run.
	if term := c.term.Swap(0); term != 0 {
		c.log.Info("no longer the leader: stopped", "term", term)
	}
	return err
}

// IsLeader reports whether this process holds River's leadership, and so
// fires cron triggers. It suits scheduler.Options.IsLeader.
func (c *Cluster) IsLeader() bool { return c.term.Load() != 0 }

// elected is River's HookPeriodicJobsStart: River starts its periodic job
// enqueuer on the replica it elects leader, with a context that ends when
// that replica loses the leadership (or stops). Herald's scheduler follows
// the same term.
func (c *Cluster) elected(ctx context.Context, _ *rivertype.HookPeriodicJobsStartParams) error {
	term := c.lastTerm.Add(1)
	c.term.Store(term)
	c.log.Info("elected leader: this replica fires cron triggers", "term", term)
	go func() {
		<-ctx.Done()
		if c.term.CompareAndSwap(term, 0) {
			c.log.Info("no longer the leader: another replica fires cron triggers", "term", term)
		}
	}()
	return nil
}

// Observe follows the engine's events; the host must pass every event to it
// (see engine.Options.Observer). The cluster keeps only the retry waits of
// the runs executing here, so a run interrupted during a wait is not
// resumed before the wait is over.
func (c *Cluster) Observe(ev engine.Event) { c.waits.observe(ev) }

// Adopt queues a job for every unfinished run that has none, such as a run
// of a host that was not part of the cluster, or one whose job River
// discarded after MaxAttempts, and reports how many it queued. A run that
// has a job is left alone, so replicas starting together adopt each run
// once, and so is a run a live held batch names (a replica executing it
// where it was admitted; see heldBatch). Like the single host's resume on
// start, it must not run while a foreground `herald run` of the same store
// is executing one of those runs.
func (c *Cluster) Adopt(ctx context.Context) (int, error) {
	runs, err := c.opts.Store.UnfinishedRuns(ctx)
	if err != nil {
		return 0, err
	}
	// Read after the runs: a batch's job is deleted only once its runs
	// ended, so a run listed above and named by no live batch now has
	// ended or is not guarded by one.
	batched, err := c.batchedRuns(ctx)
	if err != nil {
		return 0, err
	}
	if len(batched) > 0 {
		kept := runs[:0]
		for _, r := range runs {
			if !batched[r.ID] {
				kept = append(kept, r)
			}
		}
		runs = kept
	}
	adopted := 0
	const batch = 500
	for len(runs) > 0 {
		n := min(batch, len(runs))
		params := make([]river.InsertManyParams, n)
		for i, r := range runs[:n] {
			params[i] = river.InsertManyParams{Args: RunArgs{RunID: r.ID, Workflow: r.Workflow}}
		}
		res, err := c.client.InsertMany(ctx, params)
		if err != nil {
			return adopted, fmt.Errorf("adopt unfinished runs: %w", err)
		}
		for _, r := range res {
			if !r.UniqueSkippedAsDuplicate {
				adopted++
			}
		}
		runs = runs[n:]
	}
	return adopted, nil
}

// batchedRuns returns the IDs of the runs named by a live held batch's
// job.
func (c *Cluster) batchedRuns(ctx context.Context) (map[string]bool, error) {
	rows, err := c.opts.Store.Pool().Query(ctx, c.eager.batchedSQL, BatchJobKind, liveStateNames)
	if err != nil {
		return nil, fmt.Errorf("adopt unfinished runs: read the held batches: %w", err)
	}
	ids := map[string]bool{}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { ids[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("adopt unfinished runs: read the held batches: %w", err)
	}
	return ids, nil
}

// clientID returns a River client ID that names the process (its owner
// name, such as host/pid) and is unique even for two clients of one process.
func clientID(owner string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, owner)
	if len(id) > 60 {
		id = id[:60]
	}
	if id == "" {
		id = "herald"
	}
	return id + "_" + hex.EncodeToString(b[:])
}

// lease returns how long a job of workflow may run before River may rescue
// it: the slice, plus the longest attempt the slice may still have in
// flight when it ends, plus a margin for the records written after it.
func (c *Cluster) lease(workflow string) time.Duration {
	longest := config.DefaultTimeout
	if p := c.opts.Project; p != nil {
		if wf, ok := p().Workflows[workflow]; ok {
			longest = longestAttempt(wf)
		}
	}
	return c.opts.Slice + longest + LeaseMargin
}

// longestAttempt returns the longest timeout of an attempt of wf's steps.
func longestAttempt(wf *config.Workflow) time.Duration {
	var longest time.Duration
	for _, s := range wf.Steps {
		t := s.Timeout
		if t <= 0 {
			t = config.DefaultTimeout
		}
		longest = max(longest, t)
	}
	return longest
}
