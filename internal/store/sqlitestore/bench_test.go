package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// benchGoroutines is how many goroutines the parallel benchmarks write from,
// like a busy herald serve: webhook deliveries and for_each items at once.
const benchGoroutines = 64

// benchModes are the write paths measured side by side in one run:
// one_commit_per_write is the baseline, a transaction and an fsync per
// write, as before group commit; group_commit is what Open uses.
var benchModes = []struct {
	name  string
	group int
}{
	{"one_commit_per_write", 1},
	{"group_commit", maxGroup},
}

// openBench opens a store in a new temporary directory that commits groups
// of up to group writes.
func openBench(b *testing.B, group int) *Store {
	b.Helper()
	s, err := open(context.Background(), b.TempDir()+"/herald.db", Options{}, group)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.Close()) })
	return s
}

// runParallel runs body from benchGoroutines goroutines.
func runParallel(b *testing.B, body func() error) {
	b.SetParallelism((benchGoroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := body(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchOutput is a plugin's output of typical size.
var benchOutput = json.RawMessage(`{"sent":true,"id":"true_14155550123@c.us_3EB0B5A5A5A5","message":"Sent to 14155550123@c.us"}`)

// BenchmarkRecordAttempt measures what the engine pays per plugin call: a
// durable StartAttempt and FinishAttempt pair, alone and from 64 goroutines.
// bare_insert is the floor of each mode: one INSERT of a row of similar size
// through the same writer.
func BenchmarkRecordAttempt(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			s := openBench(b, mode.group)
			ctx := context.Background()
			require.NoError(b, s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE bench_baseline (n INTEGER PRIMARY KEY, body TEXT NOT NULL)`)
				return err
			}))
			run := store.Run{ID: store.NewRunID(), Workflow: "bench", Status: store.StatusRunning, CreatedAt: time.Now()}
			_, _, err := s.CreateRun(ctx, run, "", 0)
			require.NoError(b, err)

			var item atomic.Int64
			pair := func() error {
				key := store.StepKey{RunID: run.ID, StepID: "each", Item: int(item.Add(1))}
				now := time.Now()
				if err := s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}); err != nil {
					return err
				}
				return s.FinishAttempt(ctx, key, 1, store.AttemptResult{
					Status: store.StatusSucceeded, Output: benchOutput, FinishedAt: now})
			}
			insert := func() error {
				return s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO bench_baseline (body) VALUES (?)`, string(benchOutput))
					return err
				})
			}

			b.Run("bare_insert", func(b *testing.B) {
				for b.Loop() {
					if err := insert(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("start_finish", func(b *testing.B) {
				for b.Loop() {
					if err := pair(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("start_finish_parallel", func(b *testing.B) {
				groups := s.w.groups.Load()
				runParallel(b, pair)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
				b.ReportMetric(float64(2*b.N)/float64(s.w.groups.Load()-groups), "writes/commit")
			})
		})
	}
}

// BenchmarkRunLifecycleParallel measures the store's side of a
// webhook-triggered one-step run, from 64 goroutines: CreateRun with the
// delivery's idempotency key, UpdateRun to running, StartAttempt,
// FinishAttempt and UpdateRun to succeeded, five durable writes (and the
// reads UpdateRun makes). One op is one run.
func BenchmarkRunLifecycleParallel(b *testing.B) {
	trigger := json.RawMessage(`{"kind":"webhook","time":"2026-03-29T07:00:00Z","headers":{"content-type":"application/json"},` +
		`"body":{"event":"message","instanceId":"42","data":{"from":"14155550123@c.us","body":"hello, is anyone there?"}}}`)
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			s := openBench(b, mode.group)
			ctx := context.Background()
			var delivery atomic.Int64
			lifecycle := func() error {
				now := time.Now()
				run := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusQueued,
					Trigger: trigger, CreatedAt: now}
				if _, _, err := s.CreateRun(ctx, run, fmt.Sprintf("delivery:chatapi:%d", delivery.Add(1)), 24*time.Hour); err != nil {
					return err
				}
				if _, err := s.UpdateRun(ctx, run.ID, func(r *store.Run) error {
					r.Status, r.StartedAt, r.Owner, r.Attempt = store.StatusRunning, now, "host-a", 1
					return nil
				}); err != nil {
					return err
				}
				key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
				if err := s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: now}); err != nil {
					return err
				}
				if err := s.FinishAttempt(ctx, key, 1, store.AttemptResult{
					Status: store.StatusSucceeded, Output: benchOutput, FinishedAt: now}); err != nil {
					return err
				}
				_, err := s.UpdateRun(ctx, run.ID, func(r *store.Run) error {
					r.Status, r.FinishedAt = store.StatusSucceeded, now
					return nil
				})
				return err
			}
			groups := s.w.groups.Load()
			runParallel(b, lifecycle)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			b.ReportMetric(float64(5*b.N)/float64(s.w.groups.Load()-groups), "writes/commit")
		})
	}
}
