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
// spends on the writes of an eager one-step run: created with its first
// attempt started, then finished with its message indexed and the run's
// end, each write one implicit transaction on a connection of its own
// form, in a schema of its own. The forms:
//
//   - schema_0008: the statements before migration 0009 (the first
//     attempt in step_attempts: a CTE upsert with an insert to start, a
//     CTE of a read and two updates to finish);
//   - schema_0009: those after it (the first attempt in its record's row:
//     one upsert, one update);
//   - and, as experiments for what comes next, schema_0009 without the
//     foreign keys of step_records and deliveries on runs (no_fks), without
//     runs_created and runs_workflow_created (no_2_run_indexes), without
//     the message's indexing (no_delivery).
//
// The forms take turns in blocks of b.N runs, eight blocks each, so that
// the machine's load weighs on each alike, and each one's server process
// CPU time (its schedstat, in ns) per run is reported as the median of its
// blocks (the server must run on this machine):
//
//	go test ./internal/store/pgstore -run '^$' -bench EagerRunStatements -benchtime 250x
func BenchmarkEagerRunStatements(b *testing.B) {
	ctx := context.Background()
	type form struct {
		name                string
		ddl                 []string
		startSQL, finishSQL string
		noDelivery          bool
		s                   *Store
		conn                *pgx.Conn
		pid                 uint32
	}
	forms := []*form{
		{name: "schema_0008", startSQL: startAttemptChecked, finishSQL: finishAttemptChecked},
		{name: "schema_0009"},
		{name: "no_fks", ddl: []string{`ALTER TABLE {schema}.step_records DROP CONSTRAINT step_records_run_id_fkey`,
			`ALTER TABLE {schema}.deliveries DROP CONSTRAINT deliveries_run_fk`}},
		{name: "no_2_run_indexes", ddl: []string{`DROP INDEX {schema}.runs_created`, `DROP INDEX {schema}.runs_workflow_created`}},
		{name: "no_delivery", noDelivery: true},
	}
	for _, f := range forms {
		if f.startSQL == "" {
			f.startSQL, f.finishSQL = startFirstAttemptChecked, finishFirstAttemptChecked
		}
		f.s = openFresh(b)
		for _, q := range f.ddl {
			_, err := f.s.pool.Exec(ctx, f.s.sql(q))
			require.NoError(b, err)
		}
		c, err := f.s.pool.Acquire(ctx)
		require.NoError(b, err)
		defer c.Release()
		f.conn, f.pid = c.Conn(), c.Conn().PgConn().PID()
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	trigger := []byte(`{"kind":"webhook","path":"hook","headers":{"Content-Type":"application/json","User-Agent":"Go-http-client/1.1"},"body":{"msg":"hello"}}`)
	start := store.AttemptStart{Number: 1, Provider: "chatapi", Action: "send_message", StartedAt: now}
	result := store.AttemptResult{Status: store.StatusSucceeded, Output: []byte(`{"id":"m","sent":true}`), FinishedAt: now,
		Request:  []byte(`{"method":"POST","url":"https://x/sendMessage?token=***","body":{"phone":"1"}}`),
		Response: []byte(`{"status":200,"body":{"sent":true}}`)}
	oneRun := func(f *form, id string) error {
		s, key := f.s, store.StepKey{RunID: id, StepID: "notify", Item: store.NoItem}
		run := store.Run{ID: id, Workflow: "w", Status: store.StatusRunning, Trigger: trigger, Attempt: 1,
			Owner: "host-a", CreatedAt: now, StartedAt: now, HeartbeatAt: now}
		_, cols, err := newRuns([]store.Run{run}, []string{""})
		if err != nil {
			return err
		}
		create := &pgx.Batch{}
		create.Queue(s.sql(insertRunsChecked), append(cols.args(), int64(1))...)
		create.Queue(s.sql(f.startSQL), startAttemptArgs(key, start)...)
		if err := f.conn.SendBatch(ctx, create).Close(); err != nil {
			return err
		}
		end := &pgx.Batch{}
		end.Queue(s.sql(updateRunChecked), string(store.StatusSucceeded), run.Attempt, run.Owner, "",
			encodeTime(now), encodeTime(now), id, int64(0), "", "", encodeTime(now))
		end.Queue(s.sql(f.finishSQL), finishAttemptArgs(key, 1, result)...)
		if !f.noDelivery {
			end.Queue(s.sql(indexMessage), indexMessageArgs(store.Delivery{StepKey: key, Provider: "chatapi",
				MessageID: "m-" + id, Event: "chatapi.ack"})...)
		}
		return f.conn.SendBatch(ctx, end).Close()
	}
	serverNS := func(pid uint32) int64 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/schedstat")
		require.NoError(b, err, "the server must run on this machine")
		ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		require.NoError(b, err)
		return ns
	}
	n := 0
	block := func(f *form, runs int) time.Duration {
		before := serverNS(f.pid)
		for range runs {
			n++
			if err := oneRun(f, fmt.Sprintf("01EAGERSTMT%015d", n)); err != nil {
				b.Fatalf("%s: %v", f.name, err)
			}
		}
		return time.Duration(serverNS(f.pid)-before) / time.Duration(runs)
	}
	for _, f := range forms { // prepares the statements
		block(f, 20)
	}
	per := map[string][]time.Duration{}
	b.ResetTimer()
	for round := range 8 {
		for i := range forms {
			f := forms[(i+round)%len(forms)]
			per[f.name] = append(per[f.name], block(f, b.N))
		}
	}
	b.StopTimer()
	for _, f := range forms {
		d := per[f.name]
		b.Logf("%s: server CPU per run by block %v", f.name, d)
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), f.name+"-server-µs/run")
	}
}
