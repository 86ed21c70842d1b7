package sqlitestore

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// BenchmarkListRuns measures what a console page of the runs list costs
// (50 runs, newest first) on a store of 20,000 finished runs
// (HERALD_BENCH_HISTORY sets another number), by filter:
// none, a workflow, a status, and the same pages further down (a cursor
// half-way through the history). Since migration 0012 the pages without a
// status filter merge one arm per status; this is their price on the read
// side. One op is one page.
//
//	go test ./internal/store/sqlitestore -run '^$' -bench ListRuns -count 6
func BenchmarkListRuns(b *testing.B) {
	s := openBench(b, maxGroup)
	ctx := context.Background()
	history := benchHistoryOr(b, 20_000)
	seedHistory(b, s, history)
	var mid string
	require.NoError(b, s.read.QueryRowContext(ctx, `SELECT id FROM runs ORDER BY id LIMIT 1 OFFSET ?`, history/2).Scan(&mid))
	for _, c := range []struct {
		name   string
		filter store.RunFilter
	}{
		{"all", store.RunFilter{}},
		{"workflow", store.RunFilter{Workflow: "support"}},
		{"status", store.RunFilter{Status: store.StatusFailed}},
		{"all_page_200", store.RunFilter{Before: mid}},
		{"workflow_page_200", store.RunFilter{Workflow: "support", Before: mid}},
		{"since_hour", store.RunFilter{Since: time.Now().Add(-time.Hour)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := c.filter
			f.Limit = 50
			for b.Loop() {
				runs, err := s.ListRuns(ctx, f)
				if err != nil || len(runs) != 50 {
					b.Fatal(len(runs), err)
				}
			}
		})
	}
}

// benchHistoryOr returns HERALD_BENCH_HISTORY, or n when it is not set: how
// many finished runs a benchmark seeds (fewer under callgrind).
func benchHistoryOr(b *testing.B, n int) int {
	b.Helper()
	if v := os.Getenv("HERALD_BENCH_HISTORY"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	return n
}
