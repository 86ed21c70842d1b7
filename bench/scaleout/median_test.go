package scaleout

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/bench/load"
)

func TestMedianTakesEachFigureOnItsOwn(t *testing.T) {
	run := func(tput float64, p50, db time.Duration, cpu ...time.Duration) []Result {
		return []Result{{Result: load.Result{Name: "x", Throughput: tput, P50: p50}, CPU: cpu, DB: db, ViaRiver: float64(db) / 10}}
	}
	got := Median([][]Result{
		run(300, 3*time.Millisecond, 5, 900, 10),
		run(100, 1*time.Millisecond, 9, 700, 30),
		run(200, 2*time.Millisecond, 7, 800, 20),
	})
	require.Len(t, got, 1)
	require.Equal(t, 200.0, got[0].Throughput)
	require.Equal(t, 2*time.Millisecond, got[0].P50)
	require.Equal(t, []time.Duration{800, 20}, got[0].CPU)
	require.Equal(t, time.Duration(7), got[0].DB)
	require.Equal(t, 0.7, got[0].ViaRiver)
}

func TestTreeCPUCountsTheProcessesCPUTime(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	before := treeCPU(os.Getpid())
	require.Eventually(t, func() bool {
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; { // busy
		}
		return treeCPU(os.Getpid()) > before
	}, 10*time.Second, time.Millisecond, "a busy loop shows in /proc")
}

func TestDBDeltaCountsNewConnectionsFromTheirStart(t *testing.T) {
	before := map[int]time.Duration{1: 10, 2: 20, 3: 30}
	after := map[int]time.Duration{1: 15, 2: 20, 4: 7}
	// 1 used 5, 2 nothing, 3 closed (its share is lost), 4 opened: 7.
	require.Equal(t, time.Duration(12), dbDelta(before, after))
}
