package sqlitestore

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// costRunsPerTx is how many runs BenchmarkStatementCost writes per
// transaction: about a group of the writer at 32 clients, so BEGIN and
// COMMIT weigh on a run about as much as they do there.
const costRunsPerTx = 16

// BenchmarkStatementCost splits the cost of the writer's statements into the
// part every statement pays whatever it writes and the part the B-trees
// cost. One op is one run.
//
// statements runs the five statements of an eager one-step run (the
// idempotency key's claim, the run's insert, the step record's insert with
// its first attempt; the run's ending update, the attempt's result with the
// message it sent), through the writer as the store runs them;
// fixed_part runs five statements with the same argument lists (the same
// number of arguments, text where the real ones bind text, the trigger's
// bytes included) that update one column of a one-row table, so they pay
// the writer's path, database/sql, the driver's binding, SQLite's statement
// setup and the libc allocations of the bound text, and almost no B-tree
// work. Both write costRunsPerTx runs per transaction. Measure them in
// instructions, which do not depend on the machine's load:
//
//	go test -c -o /tmp/sqlitestore.test ./internal/store/sqlitestore
//	GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 valgrind --tool=callgrind \
//		/tmp/sqlitestore.test -test.run '^$' -test.bench 'StatementCost/statements' -test.benchtime 240x
//
// and the same with 48x: the difference over 192 runs is one run's share.
// HERALD_BENCH_DROP_INDEXES, a comma-separated list of index names, drops
// those indexes first, to measure what their entries cost.
func BenchmarkStatementCost(b *testing.B) {
	s := openBench(b, maxGroup)
	ctx := context.Background()
	if v := os.Getenv("HERALD_BENCH_DROP_INDEXES"); v != "" {
		for _, ix := range strings.Split(v, ",") {
			_, err := s.w.conn.ExecContext(ctx, `DROP INDEX IF EXISTS `+ix)
			require.NoError(b, err)
		}
	}
	trigger := json.RawMessage(`{"kind":"webhook","time":"2026-03-29T07:00:00.123456Z","headers":{` +
		`"accept-encoding":"gzip","content-length":"412","content-type":"application/json",` +
		`"user-agent":"chat-api-webhook/2.3 (+https://chat-api.com)","x-forwarded-for":"203.0.113.7",` +
		`"x-request-id":"4f6c1d2e-8a9b-4c3d-9e0f-1a2b3c4d5e6f"},"body":{"instanceId":"42","messages":[{` +
		`"id":"false_14155550123@c.us_3EB0C7A1B2C3D4E5F6A7","body":"hello, is anyone there? my order #12345 has not arrived",` +
		`"fromMe":false,"self":0,"isForwarded":0,"author":"14155550123@c.us","time":1774767600,"chatId":"14155550123@c.us",` +
		`"messageNumber":1234,"type":"chat","senderName":"Jane Doe","quotedMsgBody":null,"chatName":"Jane Doe"}]}}`)
	inGroups := func(b *testing.B, one func(ctx context.Context, tx *wtx, i int) error) {
		b.Helper()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += costRunsPerTx {
			require.NoError(b, s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
				for j := i; j < min(i+costRunsPerTx, b.N); j++ {
					if err := one(ctx, tx, j); err != nil {
						return err
					}
				}
				return nil
			}))
		}
	}

	b.Run("statements", func(b *testing.B) {
		inGroups(b, func(ctx context.Context, tx *wtx, _ int) error {
			now := time.Now()
			run := normRun(store.Run{ID: store.NewRunID(), Workflow: "support", Status: store.StatusRunning,
				Attempt: 1, Owner: "host-a", Trigger: trigger, TriggerKind: "webhook",
				CreatedAt: now, StartedAt: now, HeartbeatAt: now})
			if _, existed, _, err := createRun(ctx, tx, run, "", "delivery:chatapi:"+run.ID, time.Hour); err != nil || existed {
				return err
			}
			key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
			err := startAttempt(ctx, tx, key, store.AttemptStart{Number: 1, Provider: "primary",
				Action: "send_message", StartedAt: now})
			if err != nil {
				return err
			}
			at := encodeTime(now)
			res, err := tx.ExecContext(ctx, updateRunQuery, string(store.StatusSucceeded), 1, "host-a", "", "", "",
				at, at, at, run.ID, 0)
			if err != nil {
				return err
			}
			if err := ifUnchanged(res, store.ErrConflict); err != nil {
				return err
			}
			return finishAttemptRun(ctx, tx, key, 1,
				store.AttemptResult{Status: store.StatusSucceeded, Output: benchOutput, FinishedAt: now},
				[]store.Delivery{{StepKey: key, Provider: "primary", MessageID: "true_" + run.ID, Event: "message_ack"}})
		})
	})

	b.Run("fixed_part", func(b *testing.B) {
		require.NoError(b, s.withTx(ctx, func(ctx context.Context, tx *wtx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cost_one_row (id INTEGER PRIMARY KEY, x INTEGER)`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cost_one_row (id, x) VALUES (1, 0)`)
			return err
		}))
		at, id := encodeTime(time.Now()), store.NewRunID()
		// The argument lists of the five statements of "statements", in order.
		lists := [][]any{
			{"delivery:chatapi:" + id, id, at, "", at},
			{id, "support", "running", string(trigger), nil, 1, "host-a", "", "", "webhook", at, "", at, at, nil,
				"delivery:chatapi:" + id},
			{id, "notify", -1, "primary", "send_message", at},
			{"succeeded", 1, "host-a", "", "", "", at, at, at, id, 0},
			{"succeeded", at, nil, nil, nil, "succeeded", int64(0), nil, nil, "succeeded", string(benchOutput), at,
				id, "notify", -1, "primary", "true_" + id, "message_ack"},
		}
		queries := make([]string, len(lists))
		for i, args := range lists {
			// Every argument is bound (few are read); the row is updated each time.
			queries[i] = `UPDATE cost_one_row SET x = x + 1 WHERE id = 1 AND (? IS NULL` +
				strings.Repeat(` OR ? IS NULL`, len(args)-1) + ` OR 1)`
		}
		inGroups(b, func(ctx context.Context, tx *wtx, _ int) error {
			for i, args := range lists {
				res, err := tx.ExecContext(ctx, queries[i], args...)
				if err != nil {
					return err
				}
				if err := ifUnchanged(res, store.ErrConflict); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
