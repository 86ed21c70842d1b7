package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// maxCommitsPerRun is the commit budget of a one-step run (issue 16): run
// admitted, attempt started (with the run taken), attempt result with the
// step record, the delivery index row and the run's end.
const maxCommitsPerRun = 3

// maxEagerCommitsPerRun is the budget of a one-step run started eagerly
// (Engine.ExecuteNew): run admitted with its attempt started, then the
// result with the run's end.
const maxEagerCommitsPerRun = 2

// writeCounter wraps a Store and counts its write calls. Every write
// method of a Store is one transaction, so the count is the commits the
// engine asked for.
type writeCounter struct {
	store.Store
	writes atomic.Int64
}

func (c *writeCounter) count() { c.writes.Add(1) }

func (c *writeCounter) CreateRun(ctx context.Context, run store.Run, key string, ttl time.Duration) (store.Run, bool, error) {
	c.count()
	return c.Store.CreateRun(ctx, run, key, ttl)
}

func (c *writeCounter) UpdateRun(ctx context.Context, id string, update func(*store.Run) error) (store.Run, error) {
	c.count()
	return c.Store.UpdateRun(ctx, id, update)
}

func (c *writeCounter) AddOperation(ctx context.Context, op store.Operation) error {
	c.count()
	return c.Store.AddOperation(ctx, op)
}

func (c *writeCounter) StartAttempt(ctx context.Context, key store.StepKey, start store.AttemptStart) error {
	c.count()
	return c.Store.StartAttempt(ctx, key, start)
}

func (c *writeCounter) FinishAttempt(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult) error {
	c.count()
	return c.Store.FinishAttempt(ctx, key, attempt, result)
}

func (c *writeCounter) RecordStep(ctx context.Context, rec store.StepRecord) error {
	c.count()
	return c.Store.RecordStep(ctx, rec)
}

func (c *writeCounter) IndexMessage(ctx context.Context, d store.Delivery) error {
	c.count()
	return c.Store.IndexMessage(ctx, d)
}

func (c *writeCounter) Heartbeat(ctx context.Context, owner string, at time.Time) ([]string, error) {
	c.count()
	return c.Store.Heartbeat(ctx, owner, at)
}

// committingCounter is a writeCounter over a store that has
// store.RunCommitter, which it passes on.
type committingCounter struct {
	*writeCounter
	c store.RunCommitter
}

func (c committingCounter) StartAttemptRun(ctx context.Context, key store.StepKey, start store.AttemptStart, update func(*store.Run) error) (store.Run, error) {
	c.count()
	return c.c.StartAttemptRun(ctx, key, start, update)
}

func (c committingCounter) FinishAttemptRun(ctx context.Context, key store.StepKey, attempt int, result store.AttemptResult, ds []store.Delivery, update func(*store.Run) error) (store.Run, error) {
	c.count()
	return c.c.FinishAttemptRun(ctx, key, attempt, result, ds, update)
}

// eagerCounter is a committingCounter over a store that also has
// store.EagerStarter, which it passes on; fail, when set, fails the
// combined write instead, as a store that could not commit it would.
type eagerCounter struct {
	committingCounter
	es   store.EagerStarter
	fail error
}

func (c eagerCounter) CreateStartAttemptRun(ctx context.Context, run store.Run, key string, ttl time.Duration, sk store.StepKey, start store.AttemptStart) (store.Run, bool, error) {
	c.count()
	if c.fail != nil {
		return store.Run{}, false, c.fail
	}
	return c.es.CreateStartAttemptRun(ctx, run, key, ttl, sk, start)
}

// writes says which of the store's combined writes the engine may use.
type writes int

const (
	oneByOne  writes = iota // neither RunCommitter nor EagerStarter
	committed               // RunCommitter
	eager                   // RunCommitter and EagerStarter
)

const oneStep = `
workflow "one" {
  step "page" {
    uses = "primary.send"
    with = { to = "{{ trigger.body.to }}" }
  }
}`

// runOneStep runs the one-step workflow on st (through a write counter)
// and returns the writes it made, after checking the run's record is whole:
// succeeded, taken once by this engine, its attempt and step record
// succeeded, its message indexed for receipts, and the events in order.
//
// With fresh set the run is executed as the local runner executes a run
// it admits to a free worker (Engine.ExecuteNew): it must be stored,
// running with its attempt started, when its admission is answered.
func runOneStep(t *testing.T, st store.Store, w writes, fresh bool) int64 {
	t.Helper()
	var events []engine.EventType
	e, wc := countingEngine(t, st, w, oneStep, func(ev engine.Event) { events = append(events, ev.Type) })
	ctx := context.Background()
	trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}
	var (
		run store.Run
		err error
	)
	if fresh {
		run, err = executeNew(t, e, st, "one", trig, func(stored store.Run) {
			attempts, err := st.Attempts(ctx, stored.ID)
			require.NoError(t, err)
			require.Empty(t, events, "the run's events follow its creation")
			if w != eager {
				require.Equal(t, store.StatusQueued, stored.Status, "without EagerStarter the run is created first")
				require.Empty(t, attempts)
				return
			}
			require.Equal(t, store.StatusRunning, stored.Status, "the run is stored running when its admission is answered")
			require.Len(t, attempts, 1, "with its attempt started")
			require.Equal(t, store.StatusRunning, attempts[0].Status, "and nothing sent yet")
		})
	} else {
		run, err = e.Run(ctx, "one", trig)
	}
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	writes := wc.writes.Load()

	got, err := st.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, got.Status)
	require.Equal(t, 1, got.Attempt)
	require.Equal(t, "host-a", got.Owner)
	require.False(t, got.StartedAt.IsZero())
	require.False(t, got.FinishedAt.IsZero())
	attempts, err := st.Attempts(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, store.StatusSucceeded, attempts[0].Status)
	recs, err := st.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, store.StatusSucceeded, recs[0].Status)
	require.JSONEq(t, `{"id":"msg-a"}`, string(recs[0].Output))
	ds, err := st.RunDeliveries(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "msg-a", ds[0].MessageID)
	require.Equal(t, []engine.EventType{engine.RunStarted, engine.StepStarted, engine.StepFinished, engine.RunFinished}, events)
	return writes
}

// TestOneStepRunCommitsOnSQLite counts the commits of a one-step run that
// sends a message with delivery receipts on a real SQLite store, by the
// store's own count of write transactions as well as by the engine's write
// calls. Without store.RunCommitter (the fallback the engine keeps for
// stores lacking it) the same run costs six, as it did before.
//
// A run started eagerly (admitted to a free worker) costs two; on a store
// without store.EagerStarter it falls back to the three, and without
// either combined write to the six.
func TestOneStepRunCommitsOnSQLite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		w      writes
		fresh  bool
		budget int64
	}{
		{eager, true, maxEagerCommitsPerRun},
		{committed, true, maxCommitsPerRun},
		{eager, false, maxCommitsPerRun},
		{committed, false, maxCommitsPerRun},
		{oneByOne, true, 6},
		{oneByOne, false, 6},
	} {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		before := st.Commits()
		writes := runOneStep(t, st, c.w, c.fresh)
		commits := st.Commits() - before
		require.Equal(t, writes, commits, "every write call is one transaction")
		if c.w != oneByOne {
			require.LessOrEqual(t, commits, c.budget, "commits of a one-step run (writes %d, fresh %v)", c.w, c.fresh)
			continue
		}
		require.Equal(t, c.budget, commits, "the fallback writes one by one: run admitted, taken, attempt started, finished, message indexed, run finished")
	}
}

// TestOneStepRunCommitsOnPostgreSQL counts the same on PostgreSQL, where
// each write call is one transaction.
func TestOneStepRunCommitsOnPostgreSQL(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	st, err := pgstore.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.LessOrEqual(t, runOneStep(t, st, committed, false), int64(maxCommitsPerRun), "commits of a one-step run")
	require.LessOrEqual(t, runOneStep(t, st, eager, true), int64(maxEagerCommitsPerRun), "commits of a one-step run started eagerly")
	require.LessOrEqual(t, runOneStep(t, st, committed, true), int64(maxCommitsPerRun), "commits of a run started eagerly without EagerStarter")
}

// executeNew executes a new run of workflow with Engine.ExecuteNew,
// checking its admission is answered once, with the run durable, which
// check (when set) is handed as stored.
func executeNew(t testing.TB, e *engine.Engine, st store.Store, workflow string, trig engine.Trigger, check func(store.Run)) (store.Run, error) {
	t.Helper()
	ctx := context.Background()
	run, err := e.NewRun(ctx, workflow, trig)
	require.NoError(t, err)
	admitted := 0
	final, err := e.ExecuteNew(ctx, engine.Admission{Run: run, Admitted: func(got store.Run, existed bool, err error) {
		admitted++
		require.NoError(t, err)
		require.False(t, existed)
		require.Equal(t, run.ID, got.ID)
		stored, err := st.GetRun(ctx, run.ID)
		require.NoError(t, err, "the run is durable when its admission is answered")
		if check != nil {
			check(stored)
		}
	}})
	require.Equal(t, 1, admitted)
	return final, err
}

// oneStepEngine returns an engine for the one-step workflow on st, through
// a write counter that passes store.RunCommitter on only when commit is set.
func oneStepEngine(t testing.TB, st store.Store, commit bool, observe engine.Observer) (*engine.Engine, *writeCounter) {
	t.Helper()
	w := oneByOne
	if commit {
		w = committed
	}
	return countingEngine(t, st, w, oneStep, observe)
}

// countingEngine returns an engine for the pager provider "primary" and
// workflows on st, through a write counter that passes on the combined
// writes w allows.
func countingEngine(t testing.TB, st store.Store, w writes, workflows string, observe engine.Observer) (*engine.Engine, *writeCounter) {
	t.Helper()
	wc := &writeCounter{Store: st}
	var counted store.Store = wc
	if c, ok := st.(store.RunCommitter); ok && w != oneByOne {
		counted = committingCounter{writeCounter: wc, c: c}
		if es, ok := st.(store.EagerStarter); ok && w == eager {
			counted = eagerCounter{committingCounter: counted.(committingCounter), es: es}
		}
	}
	return engineOn(t, counted, workflows, observe), wc
}

// engineOn returns an engine for the pager provider "primary" and
// workflows on st.
func engineOn(t testing.TB, st store.Store, workflows string, observe engine.Observer) *engine.Engine {
	t.Helper()
	srv := sdk.NewServer(pager{}, nil)
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(`provider "primary" { type = "pager" }` + "\n" + workflows)}}, config.LoadOptions{
		Spec: func(string) (*sdk.Spec, error) { return pager{}.Spec(), nil },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NoError(t, srv.Configure(context.Background(), "primary", json.RawMessage(`{}`)))
	e, err := engine.New(engine.Options{
		Project:  p,
		Store:    st,
		Owner:    "host-a",
		Client:   func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Observer: observe,
	})
	require.NoError(t, err)
	return e
}

// BenchmarkOneStepRun runs one-step runs (create, execute: one send with a
// delivery index row) from 32 goroutines on a SQLite store, started
// eagerly as a free worker starts them (commits=2, Engine.ExecuteNew), with
// the three-commit path (commits=3) and, as the baseline in the same run,
// the fallback that writes one by one as the engine did before
// (commits=6). It reports commits (fsyncs) and CPU per run, measured from
// the process's rusage:
//
//	go test ./internal/engine -run '^$' -bench OneStepRun -benchtime 2000x -count 3
//
// With HERALD_TEST_POSTGRES_DSN set it runs the same on PostgreSQL
// (store=postgres), where commits/run counts transactions.
func BenchmarkOneStepRun(b *testing.B) {
	stores := []string{"sqlite"}
	if os.Getenv(pgtest.DSNEnv) != "" {
		stores = append(stores, "postgres")
	}
	for _, kind := range stores {
		for _, c := range []struct {
			name  string
			w     writes
			fresh bool
		}{{"commits=2", eager, true}, {"commits=3", committed, false}, {"commits=6", oneByOne, false}} {
			b.Run("store="+kind+"/"+c.name, func(b *testing.B) { benchOneStep(b, kind, c.w, c.fresh) })
		}
	}
}

// benchOneStep is one case of BenchmarkOneStepRun.
func benchOneStep(b *testing.B, kind string, w writes, fresh bool) {
	var st store.Store
	commits := func() int64 { return 0 }
	if kind == "postgres" {
		_, dsn := pgtest.Schema(b)
		pg, err := pgstore.Open(context.Background(), dsn)
		require.NoError(b, err)
		b.Cleanup(func() { pg.Close() })
		st = pg
	} else {
		lite, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"))
		require.NoError(b, err)
		b.Cleanup(func() { lite.Close() })
		st, commits = lite, lite.Commits
	}
	e, wc := countingEngine(b, st, w, oneStep, nil)
	ctx := context.Background()
	trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}
	execute := func() (store.Run, error) {
		if !fresh {
			return e.Run(ctx, "one", trig)
		}
		a, err := e.NewAdmission(ctx, "one", trig)
		if err != nil {
			return store.Run{}, err
		}
		return e.ExecuteNew(ctx, a)
	}
	var ru0, ru1 syscall.Rusage
	commits0 := commits()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run, err := execute()
			if err != nil || run.Status != store.StatusSucceeded {
				b.Errorf("run: %v %s", err, run.Status)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/run")
	if kind == "sqlite" {
		b.ReportMetric(float64(commits()-commits0)/float64(b.N), "fsyncs/run")
	}
	b.ReportMetric(float64(wc.writes.Load())/float64(b.N), "commits/run")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// TestRunChangedBeforeItsDeferredTakeIsNotSent cancels a fresh run from a
// second process (another Store and Engine on the same SQLite file) after
// this engine started it but before its first attempt: the run is still
// queued in the store, as its take waits for the attempt's start, so the
// other process ends it canceled at once. The take must then find the run
// changed, store nothing and send nothing, and Execute return the run as
// the other process left it.
func TestRunChangedBeforeItsDeferredTakeIsNotSent(t *testing.T) {
	t.Parallel()
	var sends atomic.Int64
	final, open := canceledBeforeItsTake(t, func(ev engine.Event) {
		if ev.Type == engine.StepFinished {
			sends.Add(1)
		}
	})
	require.Equal(t, "canceled by other-host", final.Reason)
	require.Zero(t, sends.Load())

	ctx := context.Background()
	st := open()
	attempts, err := st.Attempts(ctx, final.ID)
	require.NoError(t, err)
	require.Empty(t, attempts, "no attempt was started")
	got, err := st.GetRun(ctx, final.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, got.Status)
	require.Zero(t, got.Attempt, "this engine never took the run")
}

// gatedStep is the workflow of `go run ./bench` with its `if` gate: one
// step whose input is rendered from the trigger, called when the trigger
// says so.
const gatedStep = `
workflow "one" {
  step "page" {
    if   = "trigger.body.vip == true"
    uses = "primary.send"
    with = { to = "{{ trigger.body.to }}" }
  }
}`

// BenchmarkEngineRun executes one gated one-step run at a time, as a free
// worker starts a webhook's run (Engine.NewAdmission, Engine.ExecuteNew),
// on a SQLite store with an in-process provider, and reports the
// allocations per run: the engine's own cost per run beside the store's,
// for A/B comparisons of the engine (-benchmem, or callgrind's
// instructions of a fixed -benchtime).
//
//	go test ./internal/engine -run '^$' -bench EngineRun -benchmem -benchtime 2000x
func BenchmarkEngineRun(b *testing.B) {
	lite, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"))
	require.NoError(b, err)
	b.Cleanup(func() { lite.Close() })
	e := engineOn(b, lite, gatedStep, func(engine.Event) {})
	ctx := context.Background()
	run := func() {
		trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a", "vip": true}}
		a, err := e.NewAdmission(ctx, "one", trig)
		if err != nil {
			b.Fatal(err)
		}
		r, err := e.ExecuteNew(ctx, a)
		if err != nil || r.Status != store.StatusSucceeded {
			b.Fatalf("run: %v %s", err, r.Status)
		}
	}
	for range 20 {
		run() // warm the store's statements and the engine's caches
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		run()
	}
}
