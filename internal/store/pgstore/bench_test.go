package pgstore

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
)

// BenchmarkRecordAttempt measures what the engine pays per plugin call: a
// durable StartAttempt and FinishAttempt pair. bare_insert is the baseline on
// the same database in the same run: one autocommit INSERT of a row of similar
// size, the least a durable write can cost, alone and from as many
// goroutines as start_finish_parallel.
func BenchmarkRecordAttempt(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	_, err := s.exec(ctx, `CREATE TABLE {schema}.bench_baseline (
		n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL)`)
	require.NoError(b, err)
	run := store.Run{ID: store.NewRunID(), Workflow: "bench", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err = s.CreateRun(ctx, run, "", 0)
	require.NoError(b, err)
	output := json.RawMessage(`{"sent":true,"id":"true_14155550123@c.us_3EB0B5A5A5A5","message":"Sent to 14155550123@c.us"}`)

	var item atomic.Int64
	pair := func(stepID string) error {
		key := store.StepKey{RunID: run.ID, StepID: stepID, Item: int(item.Add(1))}
		now := time.Now()
		if err := s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}); err != nil {
			return err
		}
		return s.FinishAttempt(ctx, key, 1, store.AttemptResult{
			Status: store.StatusSucceeded, Output: output, FinishedAt: now})
	}

	b.Run("bare_insert", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.exec(ctx, `INSERT INTO {schema}.bench_baseline (body) VALUES ($1)`, string(output)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare_insert_parallel", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.exec(ctx, `INSERT INTO {schema}.bench_baseline (body) VALUES ($1)`, string(output)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("start_finish", func(b *testing.B) {
		for b.Loop() {
			if err := pair("serial"); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 16×GOMAXPROCS goroutines, like for_each items with parallelism 16+.
	b.Run("start_finish_parallel", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := pair("parallel"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRunWrites measures the store's side of a one-step run as the
// engine makes it, from 32 goroutines: create the run, read it, take it
// with its attempt's start, finish the attempt with its delivery index row
// and the run's end. It reports the round trips to the server per run
// (pgtest.RoundTrips), the process's CPU per run (rusage), the CPU per run
// of the server processes serving the store's pool (pgtest.ServerCPU), and the
// WAL the server wrote per run (the whole server's: other clients of the
// server count too):
//
//	go test ./internal/store/pgstore -run '^$' -bench RunWrites -benchtime 2000x -count 3
func BenchmarkRunWrites(b *testing.B) {
	s, rt := openTraced(b)
	ctx := rt.Context(context.Background())
	var ru0, ru1 syscall.Rusage
	trips0 := rt.Count()
	server0, wal0 := pgtest.ServerCPU(b, s.pool, s.schema), walLSN(b, s)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := newOneStepCtx(ctx, b, s)
			if _, err := s.GetRun(ctx, w.key.RunID); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.StartAttemptRun(ctx, w.key, w.start, w.take); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.FinishAttemptRun(ctx, w.key, 1, w.result, w.ds, w.end); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	server, wal := pgtest.ServerCPU(b, s.pool, s.schema), walLSN(b, s)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/run")
	b.ReportMetric(float64(rt.Count()-trips0)/float64(b.N), "round-trips/run")
	var used time.Duration
	for pid, cpu := range server {
		used += cpu - server0[pid]
	}
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "server-cpu-µs/run")
	b.ReportMetric(float64(wal-wal0)/float64(b.N), "wal-B/run")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	// The row versions written, exact: a HOT update adds no index entry.
	var upd, hot int64
	for _, t := range tupleWrites(b, s, int64(b.N)) {
		upd += t.upd
		hot += t.hot
	}
	b.ReportMetric(float64(upd-hot)/float64(b.N), "non-hot-updates/run")
	b.ReportMetric(float64(hot)/float64(b.N), "hot-updates/run")
}

// tuples are a table's row writes, as pg_stat_user_tables counts them.
type tuples struct{ ins, upd, hot, del int64 }

// tupleWrites returns the row writes of each table of s's schema so far
// (the schema is the benchmark's own, so they are exact), by table. Each
// server process sends its counts when it goes idle for a while or exits,
// so it closes the pool's connections first and waits until the runs
// table counts at least runs inserts.
func tupleWrites(t testing.TB, s *Store, runs int64) map[string]tuples {
	t.Helper()
	s.pool.Reset()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows, err := conn.Query(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
			FROM pg_stat_user_tables WHERE schemaname = $1`, s.schema)
		require.NoError(t, err)
		out := map[string]tuples{}
		var (
			name string
			tu   tuples
		)
		_, err = pgx.ForEachRow(rows, []any{&name, &tu.ins, &tu.upd, &tu.hot, &tu.del}, func() error {
			out[name] = tu
			return nil
		})
		require.NoError(t, err)
		if out["runs"].ins >= runs || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// walLSN returns the server's current WAL position in bytes.
func walLSN(t testing.TB, s *Store) int64 {
	t.Helper()
	var lsn int64
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn() - '0/0'`).Scan(&lsn))
	return lsn
}
