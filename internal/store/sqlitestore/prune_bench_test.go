package sqlitestore

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPruneRuns measures the retention's delete on a store of 20,000
// finished runs: one op is a PruneRuns of 500 runs, the oldest first (since
// migration 0012 found by merging one arm per final status of
// runs_settled_created). Run it with -benchtime 30x at most (40 ops empty
// the history; HERALD_BENCH_HISTORY sets another number of runs).
//
//	go test ./internal/store/sqlitestore -run '^$' -bench PruneRuns -benchtime 30x -count 4
func BenchmarkPruneRuns(b *testing.B) {
	s := openBench(b, maxGroup)
	ctx := context.Background()
	seedHistory(b, s, benchHistoryOr(b, 20_000))
	cutoff := time.Now().Add(time.Hour)
	b.ResetTimer()
	for range b.N {
		n, err := s.PruneRuns(ctx, cutoff, 500)
		if err != nil || n != 500 {
			b.Fatal(n, err)
		}
	}
}
