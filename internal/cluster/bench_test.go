package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
)

// BenchmarkClusterRuns measures a replica's side of a one-step run in
// PostgreSQL mode, from 32 goroutines that each create a run through the
// cluster store and wait until the replica executed it. The execution
// makes the store writes the engine makes for a one-step run with a
// delivery (read the run, take it with the attempt's start, finish the
// attempt with the run's end) and no plugin call. It reports the process's
// CPU per run (rusage), the round trips per run made by Herald (creates
// and executions) and by River on its own (fetching, completing,
// electing, maintaining), and runs/s:
//
//	go test ./internal/cluster -run '^$' -bench ClusterRuns -benchtime 2000x -count 3
func BenchmarkClusterRuns(b *testing.B) {
	bb := setup(b)
	rt := &pgtest.RoundTrips{}
	bb.tracer = rt
	var waiting sync.Map // run id → chan struct{}
	bb.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		ctx = rt.Context(ctx)
		run, err := executeOneStep(ctx, r.st, id)
		if ch, ok := waiting.Load(id); ok {
			close(ch.(chan struct{}))
		}
		return run, err
	}
	r := bb.start("a", time.Minute)
	ctx := rt.Context(context.Background())
	var ru0, ru1 syscall.Rusage
	ours0, all0 := rt.Count(), rt.Total()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now(),
				Trigger: json.RawMessage(`{"kind":"webhook","body":{"to":"a"}}`)}
			done := make(chan struct{})
			waiting.Store(run.ID, done)
			if _, _, err := r.c.Store().CreateRun(ctx, run, "", 0); err != nil {
				b.Error(err)
				return
			}
			select {
			case <-done:
				waiting.Delete(run.ID)
			case <-time.After(time.Minute):
				b.Error("run not executed within a minute")
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	ours, all := rt.Count()-ours0, rt.Total()-all0
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/run")
	b.ReportMetric(float64(ours)/float64(b.N), "herald-round-trips/run")
	b.ReportMetric(float64(all-ours)/float64(b.N), "river-round-trips/run")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// executeOneStep makes the store writes of a one-step run that sends one
// message, as the engine does.
func executeOneStep(ctx context.Context, st store.Store, id string) (store.Run, error) {
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return run, err
	}
	c := st.(store.RunCommitter)
	now := time.Now()
	key := store.StepKey{RunID: id, StepID: "s", Item: store.NoItem}
	if _, err := c.StartAttemptRun(ctx, key, store.AttemptStart{Number: 1, Provider: "p", Action: "send", StartedAt: now},
		func(r *store.Run) error {
			if r.Status != store.StatusQueued {
				return nil
			}
			r.Status, r.Attempt, r.Owner, r.HeartbeatAt, r.StartedAt = store.StatusRunning, r.Attempt+1, "a", now, now
			return nil
		}); err != nil {
		return run, err
	}
	result := store.AttemptResult{Status: store.StatusSucceeded, Output: json.RawMessage(`{"id":"m"}`), FinishedAt: time.Now()}
	ds := []store.Delivery{{StepKey: key, Provider: "p", MessageID: "m-" + id, Event: "send"}}
	return c.FinishAttemptRun(ctx, key, 1, result, ds, func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, time.Now()
		return nil
	})
}

// BenchmarkEagerRuns measures a replica's side of a one-step run executed
// where it is admitted (Cluster.StartEager, as a webhook's run; queued in
// memory or through River when no worker is free), through the real
// engine with an in-process provider, from 32 goroutines each admitting a
// run and waiting until it succeeded, on a replica of 64 workers (every
// run eager) and of 8 (most wait for a worker). It reports, exactly, the
// round trips per run made on the callers' contexts by the runs' creates
// and executions, every round trip of the pool per run (River's own, and
// the creates of runs queued in memory, included), the statements the
// former carry (a batch's each, BEGIN and COMMIT included), the
// share of runs River executed (whose job is left when the run ended),
// then the process's CPU per run (rusage) and runs/s:
//
//	go test ./internal/cluster -run '^$' -bench EagerRuns -benchtime 2000x -count 3
func BenchmarkEagerRuns(b *testing.B) {
	for _, workers := range []int{64, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchmarkEagerRuns(b, workers) })
	}
}

// benchmarkEagerRuns is BenchmarkEagerRuns on a replica of workers.
func benchmarkEagerRuns(b *testing.B, workers int) {
	bb, _ := eagerSetup(b, oneStep)
	bb.workers = workers
	rt := &pgtest.RoundTrips{}
	bb.tracer = rt
	var waiting sync.Map // run id → chan struct{}
	ended := func(final store.Run, err error) (store.Run, error) {
		if ch, ok := waiting.Load(final.ID); ok && err == nil && final.Status == store.StatusSucceeded {
			close(ch.(chan struct{}))
		}
		return final, err
	}
	bb.executeNew = func(r *replica, ctx context.Context, a engine.Admission) (store.Run, error) {
		return ended(r.engine.ExecuteNew(rt.Context(ctx), a))
	}
	bb.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		return ended(r.engine.Execute(rt.Context(ctx), id))
	}
	bb.executeRun = func(r *replica, ctx context.Context, run store.Run) (store.Run, error) {
		return ended(r.engine.ExecuteRun(rt.Context(ctx), run))
	}
	r := bb.startEngine("a", time.Minute)
	trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}}
	admit := func() error {
		run, err := r.engine.NewRun(context.Background(), "w", trig)
		if err != nil {
			return err
		}
		done := make(chan struct{})
		waiting.Store(run.ID, done)
		defer waiting.Delete(run.ID)
		failed := make(chan error, 1)
		a := engine.Admission{Run: run, Admitted: func(_ store.Run, _ bool, err error) {
			if err != nil {
				failed <- err
			}
		}}
		if !r.c.StartEager(a) {
			// No free worker: through River, as a webhook's run then is.
			if _, _, err := r.c.Store().CreateRun(rt.Context(context.Background()), run, "", 0); err != nil {
				return err
			}
		}
		select {
		case <-done:
			return nil
		case err := <-failed:
			return err
		case <-time.After(time.Minute):
			return errors.New("run not executed within a minute")
		}
	}
	if err := admit(); err != nil { // prepares the statements
		b.Fatal(err)
	}
	statements := func() int {
		n := 0
		for _, s := range rt.Statements() {
			n += strings.Count(s, ";\n") + 1
		}
		return n
	}
	// A job River executed is left when its run ended; an eager or queued
	// run's is deleted with the run's end.
	byRiver := func() int {
		var n int
		if err := r.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+
			pgx.Identifier{r.st.Schema(), "river_job"}.Sanitize()+` WHERE kind = $1`, cluster.JobKind).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	river0 := byRiver()
	server0 := pgtest.ServerCPU(b, r.st.Pool(), bb.schema)
	trips0, all0, stmts0 := rt.Count(), rt.Total(), statements()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := admit(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(rt.Count()-trips0)/float64(b.N), "round-trips/run")
	// Every round trip of the pool: River's fetches and completions, and
	// the creates of runs queued in memory (made on the replica's context).
	b.ReportMetric(float64(rt.Total()-all0)/float64(b.N), "all-round-trips/run")
	b.ReportMetric(float64(statements()-stmts0)/float64(b.N), "statements/run")
	b.ReportMetric(100*float64(byRiver()-river0)/float64(b.N), "%-by-river")
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/run")
	var server time.Duration
	for pid, used := range pgtest.ServerCPU(b, r.st.Pool(), bb.schema) {
		server += used - server0[pid]
	}
	b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-cpu-µs/run")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}
