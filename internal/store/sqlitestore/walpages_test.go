package sqlitestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkOneStepRunPages is BenchmarkOneStepRunWrites that also logs, per
// B-tree (table or index), the WAL pages its commits wrote: what a commit
// costs is mostly pages (two pwrite calls and a checksum each), and a
// B-tree touched by a group costs at least one page.
//
//	go test ./internal/store/sqlitestore -run '^$' -bench OneStepRunPages -benchtime 3000x -v
func BenchmarkOneStepRunPages(b *testing.B) {
	walReport = logWALPages
	defer func() { walReport = nil }()
	BenchmarkOneStepRunWrites(b)
}

// walReport, when set, gets the store, and the WAL's size before the
// measured runs, at the end of BenchmarkOneStepRunWrites.
var walReport func(testing.TB, *Store, int64)

// logWALPages logs the frames of the WAL of s past offset from, per B-tree
// (by the dbstat table) and per commit.
func logWALPages(tb testing.TB, s *Store, from int64) {
	data, err := os.ReadFile(s.Path() + "-wal")
	require.NoError(tb, err)
	owner := map[uint32]string{1: "page 1 (header, schema)"}
	rows, err := s.w.conn.QueryContext(context.Background(), `SELECT name, pageno FROM dbstat WHERE pageno <> 1`)
	require.NoError(tb, err)
	for rows.Next() {
		var name string
		var page uint32
		require.NoError(tb, rows.Scan(&name, &page))
		owner[page] = name
	}
	require.NoError(tb, rows.Err())
	require.NoError(tb, rows.Close())
	const header, frame = 32, 24 + 4096
	counts := map[string]int{}
	commits := 0
	for off := max(from, header); off+frame <= int64(len(data)); off += frame {
		name, ok := owner[binary.BigEndian.Uint32(data[off:])]
		if !ok {
			name = "other (pointer map, free list)"
		}
		counts[name]++
		if binary.BigEndian.Uint32(data[off+4:]) != 0 { // a commit's last frame
			commits++
		}
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return counts[names[i]] > counts[names[j]] })
	var out strings.Builder
	fmt.Fprintf(&out, "%d commits; WAL pages per commit by B-tree:\n", commits)
	for _, n := range names {
		fmt.Fprintf(&out, "  %-36s %6.2f\n", n, float64(counts[n])/float64(max(commits, 1)))
	}
	tb.Log(out.String())
}
