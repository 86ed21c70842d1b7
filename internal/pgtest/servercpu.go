package pgtest

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what ServerCPU queries: a pool or a connection.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ServerCPU returns the CPU time used so far by each PostgreSQL server
// process serving a connection whose application_name is app, by process
// ID, read from /proc; empty where /proc is not readable (a server on
// another machine).
func ServerCPU(t testing.TB, q Querier, app string) map[int]time.Duration {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which may hold spaces: utime and
		// stime are the 12th and 13th, in clock ticks of 10 ms.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[int(pid)] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}
