package pgstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// BenchmarkEagerRunStatements measures what PostgreSQL's server process
// spends on the writes of an eager one-step run (created with its first
// attempt started, then finished with its message indexed and the run's
// end), each write one implicit transaction on one connection, in two
// forms: "schema_0008" the statements before migration 0009 (the first
// attempt in step_attempts: a CTE upsert with an insert to start, a CTE of
// a read and two updates to finish), "schema_0009" those after it (the
// first attempt in its record's row: one upsert, one update). The forms
// take turns in blocks of b.N runs, six blocks each, so that the machine's
// load weighs on each alike, and the server process's CPU time (its
// schedstat, in ns) per run is reported for each as the median of its
// blocks:
//
//	go test ./internal/store/pgstore -run '^$' -bench EagerRunStatements -benchtime 300x
func BenchmarkEagerRunStatements(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	require.NoError(b, err)
	defer conn.Release()
	pid := conn.Conn().PgConn().PID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	trigger := []byte(`{"kind":"webhook","path":"hook","headers":{"Content-Type":"application/json","User-Agent":"Go-http-client/1.1"},"body":{"msg":"hello"}}`)

	type form struct {
		name string
		run  func(id string) error
	}
	send := func(b *pgx.Batch) error { return conn.SendBatch(ctx, b).Close() }
	runArgs := func(id string) (store.Run, []any) {
		run := store.Run{ID: id, Workflow: "w", Status: store.StatusRunning, Trigger: trigger, Attempt: 1,
			Owner: "host-a", CreatedAt: now, StartedAt: now, HeartbeatAt: now}
		_, cols, err := newRuns([]store.Run{run}, []string{""})
		require.NoError(b, err)
		stored, _, err := newRun(run, "", 0)
		require.NoError(b, err)
		return stored, append(cols.args(), int64(1))
	}
	key := func(id string) store.StepKey { return store.StepKey{RunID: id, StepID: "notify", Item: store.NoItem} }
	start := store.AttemptStart{Number: 1, Provider: "chatapi", Action: "send_message", StartedAt: now}
	result := store.AttemptResult{Status: store.StatusSucceeded, Output: []byte(`{"id":"m","sent":true}`), FinishedAt: now,
		Request:  []byte(`{"method":"POST","url":"https://x/sendMessage?token=***","body":{"phone":"1"}}`),
		Response: []byte(`{"status":200,"body":{"sent":true}}`)}
	endArgs := func(run store.Run) []any {
		run.Status, run.FinishedAt = store.StatusSucceeded, now
		return []any{string(run.Status), run.Attempt, run.Owner, run.Error, encodeTime(run.StartedAt),
			encodeTime(run.FinishedAt), run.ID, int64(0), run.Reason, run.CancelRequested, encodeTime(run.HeartbeatAt)}
	}
	delivery := func(id string) store.Delivery {
		return store.Delivery{StepKey: key(id), Provider: "chatapi", MessageID: "m-" + id, Event: "chatapi.ack"}
	}
	writes := func(startSQL, finishSQL string) func(id string) error {
		return func(id string) error {
			run, args := runArgs(id)
			c := &pgx.Batch{}
			c.Queue(s.sql(insertRunsChecked), args...)
			c.Queue(s.sql(startSQL), startAttemptArgs(key(id), start)...)
			if err := send(c); err != nil {
				return err
			}
			f := &pgx.Batch{}
			f.Queue(s.sql(updateRunChecked), endArgs(run)...)
			f.Queue(s.sql(finishSQL), finishAttemptArgs(key(id), 1, result)...)
			f.Queue(s.sql(indexMessage), indexMessageArgs(delivery(id))...)
			return send(f)
		}
	}
	forms := []form{
		{"schema_0008", writes(startAttemptChecked, finishAttemptChecked)},
		{"schema_0009", writes(startFirstAttemptChecked, finishFirstAttemptChecked)},
	}
	serverNS := func() int64 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/schedstat")
		require.NoError(b, err, "the server must run on this machine")
		ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		require.NoError(b, err)
		return ns
	}
	n := 0
	block := func(f form, runs int) time.Duration {
		before := serverNS()
		for range runs {
			n++
			if err := f.run(fmt.Sprintf("01EAGERSTMT%015d", n)); err != nil {
				b.Fatalf("%s: %v", f.name, err)
			}
		}
		return time.Duration(serverNS()-before) / time.Duration(runs)
	}
	for _, f := range forms { // prepares the statements
		block(f, 20)
	}
	per := map[string][]time.Duration{}
	b.ResetTimer()
	for round := range 6 {
		for i := range forms {
			f := forms[(i+round)%len(forms)]
			per[f.name] = append(per[f.name], block(f, b.N))
		}
	}
	b.StopTimer()
	for _, f := range forms {
		d := per[f.name]
		b.Logf("%s: server µs/run by block %v", f.name, d)
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), f.name+"-server-µs/run")
	}
}
