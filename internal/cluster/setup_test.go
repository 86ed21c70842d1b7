package cluster_test

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// bundle is what a test gets from setup: a fresh schema and a way to start
// replicas on it.
type bundle struct {
	t   testing.TB
	dsn string
	// schema is the test's schema, the application_name of the replicas'
	// connections.
	schema  string
	project *config.Project
	// execute is every replica's Execute; tests replace it before starting
	// replicas.
	execute func(r *replica, ctx context.Context, id string) (store.Run, error)
	// executeRun, when set, is every replica's ExecuteRun (runs created
	// there, executed by River).
	executeRun func(r *replica, ctx context.Context, run store.Run) (store.Run, error)
	// executeNew, when set, is every replica's ExecuteNew (eager runs).
	executeNew func(r *replica, ctx context.Context, a engine.Admission) (store.Run, error)
	skipped    sync.Map // run id → reason
	// maxQueued is the replicas' Options.MaxQueued.
	maxQueued int
	// tracer, when set, traces the pools of the replicas started next.
	tracer pgx.QueryTracer
	// workers is the replicas' Options.Workers; 8 when zero.
	workers int
	// maxOverflow is the replicas' Options.MaxOverflow.
	maxOverflow int
	// client is the engines' provider client (startEngine).
	client engine.ClientFunc
}

// replica is one Cluster with its own pool, as one herald serve process.
type replica struct {
	name  string
	st    *pgstore.Store
	c     *cluster.Cluster
	calls atomic.Int64
	// handedCalls counts the executions of runs handed by their creator
	// (ExecuteRun), which calls counts too.
	handedCalls atomic.Int64
	// engine is the replica's engine, when a test gives it one.
	engine *engine.Engine
}

func setup(t testing.TB) *bundle {
	t.Helper()
	schema, dsn := pgtest.Schema(t)
	b := &bundle{t: t, dsn: dsn, schema: schema, project: &config.Project{
		Workflows: map[string]*config.Workflow{
			"w": {Name: "w", Steps: []*config.Step{{ID: "s", Timeout: time.Second}}},
		},
		Providers: map[string]*config.Provider{},
	}}
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		return finish(ctx, r.st, id, store.StatusSucceeded)
	}
	return b
}

// start opens a replica with a slice of slice, started and stopped with t.
func (b *bundle) start(name string, slice time.Duration) *replica {
	t := b.t
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(b.dsn + "&pool_max_conns=6")
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = b.tracer
	cfg.ConnConfig.RuntimeParams["application_name"] = b.schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	st, err := pgstore.OpenPool(ctx, pool, pgstore.Options{})
	require.NoError(t, err)
	_, err = cluster.Migrate(ctx, st, nil)
	require.NoError(t, err)
	r := &replica{name: name, st: st}
	var executeNew func(context.Context, engine.Admission) (store.Run, error)
	if b.executeNew != nil {
		executeNew = func(ctx context.Context, a engine.Admission) (store.Run, error) { return b.executeNew(r, ctx, a) }
	}
	var executeRun func(context.Context, store.Run) (store.Run, error)
	if b.executeRun != nil {
		executeRun = func(ctx context.Context, run store.Run) (store.Run, error) {
			r.calls.Add(1)
			r.handedCalls.Add(1)
			return b.executeRun(r, ctx, run)
		}
	}
	r.c, err = cluster.New(cluster.Options{
		ExecuteNew:  executeNew,
		ExecuteRun:  executeRun,
		Store:       st,
		Owner:       name,
		Workers:     cmp.Or(b.workers, 8),
		Slice:       slice,
		MaxQueued:   b.maxQueued,
		MaxOverflow: b.maxOverflow,
		Project:     func() *config.Project { return b.project },
		Execute: func(ctx context.Context, id string) (store.Run, error) {
			r.calls.Add(1)
			return b.execute(r, ctx, id)
		},
		Skip: func(ctx context.Context, id, reason string) (store.Run, error) {
			b.skipped.Store(id, reason)
			return finish(ctx, st, id, store.StatusSkipped)
		},
	})
	require.NoError(t, err)
	require.NoError(t, r.c.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.c.Stop(stopCtx)
		_ = st.Close()
		pool.Close()
	})
	return r
}

// create stores a queued run of workflow through r's cluster store.
func (r *replica) create(t *testing.T, workflow, key string) (store.Run, bool) {
	t.Helper()
	run := store.Run{ID: store.NewRunID(), Workflow: workflow, Status: store.StatusQueued, CreatedAt: time.Now()}
	ttl := time.Duration(0)
	if key != "" {
		ttl = time.Hour
	}
	got, existed, err := r.c.Store().CreateRun(context.Background(), run, key, ttl)
	require.NoError(t, err)
	return got, existed
}

// finish ends a run with status, as the engine does.
func finish(ctx context.Context, st store.Store, id string, status store.Status) (store.Run, error) {
	return st.UpdateRun(context.WithoutCancel(ctx), id, func(r *store.Run) error {
		r.Status = status
		r.FinishedAt = time.Now()
		if r.StartedAt.IsZero() {
			r.StartedAt = r.FinishedAt
		}
		return nil
	})
}

// waitFor polls cond until it holds, failing t after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobs counts the River jobs that would execute run id in each state: its
// own, the held batch's that names it, and, while the run is unfinished,
// its guard's (which other runs may keep once it ended; it executes only
// the unfinished ones).
func jobs(t *testing.T, st *pgstore.Store, id string) map[string]int {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(),
		`SELECT state::text, count(*) FROM `+pgx.Identifier{st.Schema(), "river_job"}.Sanitize()+`
		WHERE kind = $1 AND args->>'run_id' = $2 OR kind = $3 AND (args->'run_ids' ? $2
			OR args->>'guard' = (SELECT guard FROM `+pgx.Identifier{st.Schema(), "runs"}.Sanitize()+`
				WHERE id = $2 AND status IN ('queued', 'running')))
		GROUP BY state`,
		cluster.JobKind, id, cluster.BatchJobKind)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		require.NoError(t, rows.Scan(&state, &n))
		out[state] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// interrupted is what the engine returns when a slice ends between steps.
var interrupted = engine.ErrInterrupted
