package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
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
	runParallelN(b, benchGoroutines, body)
}

// runParallelN runs body from n goroutines.
func runParallelN(b *testing.B, n int, body func() error) {
	b.SetParallelism((n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
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

// benchHistory is how many finished runs BenchmarkOneStepRunWrites finds in
// the store: a few days of a busy deployment, so its indexes are as deep as
// in one and a run's status changes land on pages apart.
// HERALD_BENCH_HISTORY sets another number (a smaller one under callgrind).
const benchHistory = 50_000

// seedHistory writes n finished runs, a tenth of them failed, of two
// workflows, each with a step record holding its first attempt and the
// message it sent (as the store writes them since migration 0011),
// created before now, in one transaction, and checkpoints the WAL.
func seedHistory(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now().Add(-time.Duration(n) * time.Second).UTC()
	// On the write connection, bypassing the idle writer, so the writer's
	// own instruction count (callgrind) holds the measured runs alone.
	tx, err := s.w.conn.BeginTx(ctx, nil)
	require.NoError(b, err)
	var stmts []*sql.Stmt
	for _, q := range []string{
		`INSERT INTO runs (id, workflow, status, trigger_json, attempt, owner, trigger_kind, heartbeat_at,
			created_at, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, 1, 'host-a', 'webhook', ?5, ?5, ?5, ?5)`,
		`INSERT INTO idempotency_keys (key, run_id, expires_at) VALUES (?2, ?1, ?5)`,
		`INSERT INTO step_records (run_id, step_id, item, status, attempts, provider, output_json, started_at, finished_at,
			first_provider, first_action, first_status, first_outcome, first_request_json, first_started_at,
			first_finished_at, msg_provider, msg_id, msg_event) VALUES (?1, 'notify', -1, ?3, 1, 'primary', ?4, ?5, ?5,
			'primary', 'send_message', ?3, ?3, ?4, ?5, ?5, 'primary', ?2, 'message_ack')`,
	} {
		st, err := tx.PrepareContext(ctx, q)
		require.NoError(b, err)
		stmts = append(stmts, st)
	}
	for i := range n {
		id := store.NewRunID()
		at := encodeTime(start.Add(time.Duration(i) * time.Second))
		status := "succeeded"
		if i%10 == 0 {
			status = "failed"
		}
		wf := []string{"support", "digest"}[i%2]
		body := fmt.Sprintf(`{"kind":"webhook","body":{"event":"message","data":{"from":"%d@c.us","body":"hello %d"}}}`, i, i)
		for j, st := range stmts {
			// ?2 is the workflow for the run and a unique key for the rest.
			name := fmt.Sprintf("history:%d", i)
			if j == 0 {
				name = wf
			}
			_, err := st.ExecContext(ctx, id, name, status, body, at)
			require.NoError(b, err)
		}
	}
	require.NoError(b, tx.Commit())
	_, err = s.w.conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(b, err)
}

// BenchmarkOneStepRunWrites runs the exact store writes of a one-step run
// as the engine makes them from 32 goroutines, and reports the process's
// CPU per run (rusage), the commits per run, the writer's statements per
// run (BEGIN and COMMIT included) and the WAL pages written per commit and
// per run, on a store that holds benchHistory finished runs already. The
// checkpointer is stopped so the WAL only grows and its size counts the
// frames; its copying is therefore not in the CPU figure. One op is one run.
// HERALD_BENCH_CLIENTS sets another number of goroutines (1: each write
// commits alone, and the pages per run no longer depend on the grouping).
//
// commits=3 is a run created first (CreateRun with the delivery's
// idempotency key; StartAttemptRun taking the run; FinishAttemptRun with
// the step's result, its masked exchange and one delivery index row,
// ending the run); commits=2 is the eager start that a free worker takes
// (CreateStartAttemptRun, then the same FinishAttemptRun).
//
//	go test ./internal/store/sqlitestore -run '^$' -bench OneStepRunWrites -benchtime 4000x -count 3
func BenchmarkOneStepRunWrites(b *testing.B) {
	b.Run("commits=3", func(b *testing.B) { oneStepRunWrites(b, false) })
	b.Run("commits=2", func(b *testing.B) { oneStepRunWrites(b, true) })
}

// oneStepRunWrites is BenchmarkOneStepRunWrites, with the run created and
// its attempt started in one write when eager is set.
func oneStepRunWrites(b *testing.B, eager bool) {
	s := openBench(b, maxGroup)
	require.NoError(b, s.ckpt.close())
	s.ckpt = nil
	ctx := context.Background()
	history := benchHistory
	if v := os.Getenv("HERALD_BENCH_HISTORY"); v != "" {
		var err error
		history, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	seedHistory(b, s, history)
	// The trigger as the webhook handler stores it: the request's headers
	// and its body, about 1 KB.
	trigger := json.RawMessage(`{"kind":"webhook","time":"2026-03-29T07:00:00.123456Z","headers":{` +
		`"accept-encoding":"gzip","content-length":"412","content-type":"application/json",` +
		`"user-agent":"chat-api-webhook/2.3 (+https://chat-api.com)","x-forwarded-for":"203.0.113.7",` +
		`"x-forwarded-proto":"https","x-request-id":"4f6c1d2e-8a9b-4c3d-9e0f-1a2b3c4d5e6f",` +
		`"x-herald-timestamp":"1774767600","x-herald-signature":"sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",` +
		`"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},` +
		`"body":{"instanceId":"42","messages":[{"id":"false_14155550123@c.us_3EB0C7A1B2C3D4E5F6A7","body":"hello, is anyone there? my order #12345 has not arrived",` +
		`"fromMe":false,"self":0,"isForwarded":0,"author":"14155550123@c.us","time":1774767600,"chatId":"14155550123@c.us",` +
		`"messageNumber":1234,"type":"chat","senderName":"Jane Doe","quotedMsgBody":null,"chatName":"Jane Doe"}]}}`)
	request := json.RawMessage(`{"method":"POST","url":"https://api.chat-api.com/instance42/sendMessage?token=***",` +
		`"body":{"phone":"14155550123","body":"We got your message and will answer shortly."}}`)
	response := json.RawMessage(`{"status":200,"body":{"sent":true,"id":"true_14155550123@c.us_3EB0B5A5A5A5","message":"Sent to 14155550123@c.us"}}`)
	var n atomic.Int64
	oneRun := func() error {
		now := time.Now()
		i := n.Add(1)
		run := store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusQueued,
			Trigger: trigger, Inputs: json.RawMessage(`{"to":"14155550123"}`), CreatedAt: now}
		idemKey := fmt.Sprintf("delivery:chatapi:%d", i)
		key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
		start := store.AttemptStart{Number: 1, Provider: "primary", Action: "send_message", StartedAt: now}
		if eager {
			run.Status, run.Attempt, run.Owner, run.HeartbeatAt, run.StartedAt = store.StatusRunning, 1, "host-a", now, now
			if _, _, err := s.CreateStartAttemptRun(ctx, run, idemKey, 24*time.Hour, key, start); err != nil {
				return err
			}
		} else {
			if _, _, err := s.CreateRun(ctx, run, idemKey, 24*time.Hour); err != nil {
				return err
			}
			if _, err := s.StartAttemptRun(ctx, key, start, func(r *store.Run) error {
				r.Status, r.Attempt, r.Owner, r.HeartbeatAt, r.StartedAt = store.StatusRunning, 1, "host-a", now, now
				return nil
			}); err != nil {
				return err
			}
		}
		_, err := s.FinishAttemptRun(ctx, key, 1, store.AttemptResult{
			Status: store.StatusSucceeded, Output: benchOutput, Request: request, Response: response, FinishedAt: now},
			[]store.Delivery{{StepKey: key, Provider: "primary", MessageID: fmt.Sprintf("true_14155550123@c.us_%d", i), Event: "message_ack"}},
			func(r *store.Run) error {
				r.Status, r.FinishedAt = store.StatusSucceeded, now
				return nil
			})
		return err
	}
	wal := func() int64 {
		fi, err := os.Stat(s.Path() + "-wal")
		require.NoError(b, err)
		return fi.Size()
	}
	var ru0, ru1 syscall.Rusage
	groups, execs, wal0 := s.w.groups.Load(), s.w.execs.Load(), wal()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	clients := 32
	if v := os.Getenv("HERALD_BENCH_CLIENTS"); v != "" {
		var err error
		clients, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	b.ResetTimer()
	if clients == 1 {
		for range b.N {
			if err := oneRun(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		runParallelN(b, clients, oneRun)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	commits := s.w.groups.Load() - groups
	const frame = 4096 + 24 // a WAL frame: its header and one page
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/run")
	b.ReportMetric(float64(commits)/float64(b.N), "commits/run")
	b.ReportMetric(float64(s.w.execs.Load()-execs)/float64(b.N), "stmts/run")
	b.ReportMetric(float64(wal()-wal0)/frame/float64(commits), "pages/commit")
	b.ReportMetric(float64(wal()-wal0)/frame/float64(b.N), "pages/run")
	if walReport != nil {
		walReport(b, s, wal0)
	}
}
