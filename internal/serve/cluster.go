package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// DefaultPoolConns is the PostgreSQL connection pool size of a cluster
// host whose DSN does not set pool_max_conns: River's leader election,
// notifier, job fetches and completions share it with the store.
const DefaultPoolConns = 20

// RunSliceEnv names the variable that sets Options.RunSlice when it is zero,
// as a Go duration such as "30s".
const RunSliceEnv = "HERALD_RUN_SLICE"

// clusterRunner executes runs as River jobs on the PostgreSQL store that
// every replica shares: see package cluster.
type clusterRunner struct {
	c      *cluster.Cluster
	st     *pgstore.Store
	owns   bool // st was opened here, so Close closes it
	wait   time.Duration
	logger hclog.Logger
	feed   *feed // the replicas' shared run events
}

var _ runner = (*clusterRunner)(nil)

// openCluster prepares cluster mode when the host's store is PostgreSQL: it
// opens the store (unless one was handed in), applies River's migrations
// beside Herald's, and points the host options at the cluster's store, rate
// limiter and event feed. It returns nil for a single host (SQLite, or a
// dry run). The runner's engine hooks call s, which must be complete
// before the runner starts.
func openCluster(ctx context.Context, s *Server, opts *Options) (*clusterRunner, error) {
	st, owns, err := clusterStore(ctx, opts.Host)
	if err != nil || st == nil {
		return nil, err
	}
	r := &clusterRunner{st: st, owns: owns, wait: opts.AdmitWait, logger: s.logger.Named("cluster")}
	fail := func(err error) (*clusterRunner, error) {
		r.close()
		return nil, err
	}
	applied, err := cluster.Migrate(ctx, st, r.logger)
	if err != nil {
		return fail(err)
	}
	if len(applied) > 0 {
		r.logger.Info("applied migrations", "schema", st.Schema(), "migrations", strings.Join(applied, ", "))
	}
	slice := opts.RunSlice
	if slice == 0 {
		if v := os.Getenv(RunSliceEnv); v != "" {
			if slice, err = time.ParseDuration(v); err != nil || slice <= 0 {
				return fail(fmt.Errorf("%s=%q is not a positive duration", RunSliceEnv, v))
			}
		}
	}
	r.c, err = cluster.New(cluster.Options{
		Store:     st,
		Owner:     opts.Host.Owner,
		Workers:   opts.Workers,
		Slice:     slice,
		MaxQueued: opts.QueueSize,
		Logger:    r.logger,
		Execute:   func(ctx context.Context, id string) (store.Run, error) { return s.host.Engine.Execute(ctx, id) },
		ExecuteRun: func(ctx context.Context, run store.Run) (store.Run, error) {
			return s.host.Engine.ExecuteRun(ctx, run)
		},
		ExecuteNew: func(ctx context.Context, a engine.Admission) (store.Run, error) {
			return s.host.Engine.ExecuteNew(ctx, a)
		},
		Skip: func(ctx context.Context, id, reason string) (store.Run, error) {
			return s.host.Engine.Skip(ctx, id, reason)
		},
		Project: func() *config.Project { return s.host.Engine.Project() },
		ResolveTimeout: func(ctx context.Context, key engine.WaitKey) (bool, error) {
			return s.host.Engine.ResolveTimeout(ctx, key)
		},
	})
	if err != nil {
		return fail(err)
	}
	opts.Workers = r.c.Workers()
	opts.Host.Store = r.c.Store()
	opts.Host.RateLimiter = r.c.RateLimiter()
	r.feed = startFeed(st, opts.Host.Owner, s.events, s.mask, r.logger.Named("events"))
	observe := opts.Host.Observer
	opts.Host.Observer = func(ev engine.Event) {
		r.c.Observe(ev)
		r.feed.publish(ev)
		if observe != nil {
			observe(ev)
		}
	}
	return r, nil
}

// clusterStore returns the PostgreSQL store a host serves a cluster on, and
// whether it was opened here: the store handed in when it is a
// *pgstore.Store, else the one the DSN names when it is postgres://. It
// returns nil for a single host.
func clusterStore(ctx context.Context, h host.Options) (*pgstore.Store, bool, error) {
	if h.DryRun {
		return nil, false, nil
	}
	if h.Store != nil {
		st, _ := h.Store.(*pgstore.Store)
		return st, false, nil
	}
	dsn := h.StoreDSN
	if dsn == "" {
		dsn = os.Getenv("HERALD_STORE")
	}
	d, err := store.ParseDSN(dsn)
	if err != nil || d.Driver != store.DriverPostgres {
		return nil, false, nil // host.Open reports a bad DSN
	}
	url := d.URL
	if !strings.Contains(url, "pool_max_conns") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += fmt.Sprintf("%spool_max_conns=%d", sep, DefaultPoolConns)
	}
	st, err := pgstore.Open(ctx, url)
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

// submit waits for room in the cluster's queue (ErrBusy after the
// admission wait) and creates the run; the cluster's store queues its job
// in the same transaction, and the workflow's concurrency limit is claimed
// when the run starts, whichever replica starts it. A run that may start
// eagerly (Engine.EagerEligible) is executed here at once when this
// replica has a free worker (Cluster.StartEager), created with its first
// attempt's start and its job held back; submit returns once that is
// durable.
func (r *clusterRunner) submit(ctx context.Context, wf *config.Workflow, c creation) (store.Run, bool, error) {
	if err := r.c.Admit(ctx, r.wait); err != nil {
		if errors.Is(err, cluster.ErrFull) {
			return store.Run{}, false, fmt.Errorf("%w (%w)", ErrBusy, err)
		}
		return store.Run{}, false, err
	}
	if c.engine.EagerEligible(wf.Name, c.trig) {
		run, err := c.engine.NewRun(ctx, c.workflow, c.trig)
		if err != nil {
			return store.Run{}, false, err
		}
		admitted := make(chan admission, 1)
		fresh := engine.Admission{Run: run, IdemKey: c.idemKey, TTL: c.ttl,
			Admitted: func(run store.Run, existed bool, err error) { admitted <- admission{run, existed, err} }}
		if r.c.StartEager(fresh) {
			a := <-admitted
			return a.run, a.existed, a.err
		}
	}
	return c.create(ctx)
}

// start joins the cluster and adopts the unfinished runs that have no job.
func (r *clusterRunner) start(ctx context.Context) error {
	if err := r.c.Start(ctx); err != nil {
		return err
	}
	n, err := r.c.Adopt(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		r.logger.Info("adopted unfinished runs that had no job", "count", n)
	}
	return nil
}

// stop hands the runs executing here back to the queue once their steps in
// flight finish, within grace.
func (r *clusterRunner) stop(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := r.c.Stop(ctx); err != nil {
		r.logger.Warn("cluster stop", "error", err)
	}
}

// leader reports whether River elected this replica leader.
func (r *clusterRunner) leader() bool { return r.c.IsLeader() }

// close closes the store when it was opened here.
func (r *clusterRunner) close() error {
	if r.feed != nil {
		r.feed.close()
	}
	if r.owns {
		return r.st.Close()
	}
	return nil
}
