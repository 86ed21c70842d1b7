package scaleout_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/bench/scaleout"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/testbin"
)

// TestScaleOut prints the scale-out benchmark's tables: SQLite mode, one
// PostgreSQL replica and two, beside the floor, each run's table and then
// the medians. It takes minutes of a loaded machine, so it runs only with
// HERALD_BENCH_SCALEOUT=1 (and PostgreSQL):
//
//	HERALD_BENCH_SCALEOUT=1 go test ./bench/scaleout -run TestScaleOut -v -timeout 30m
//
// HERALD_BENCH_SCALEOUT_RUNS sets how many runs make the medians (3 by
// default), HERALD_BENCH_SCALEOUT_RATE the open loop's rate (200 by default;
// 0 skips it), and HERALD_BENCH_SCALEOUT_PROFILE a directory for CPU
// profiles and goroutine dumps of each herald measurement.
func TestScaleOut(t *testing.T) {
	if os.Getenv("HERALD_BENCH_SCALEOUT") != "1" {
		t.Skip("HERALD_BENCH_SCALEOUT is not 1; skipping the scale-out benchmark")
	}
	dsn := pgtest.DSN(t)
	pgtest.Shared(t)
	runs := envInt(t, "HERALD_BENCH_SCALEOUT_RUNS", 3)
	rate := envInt(t, "HERALD_BENCH_SCALEOUT_RATE", 200)
	dir := testbin.Build(t, "github.com/heraldhq/herald/cmd/host", "github.com/heraldhq/herald/plugins/chatapi", "github.com/heraldhq/herald/bench/floor")
	require.NoError(t, os.Rename(filepath.Join(dir, "host"), filepath.Join(dir, "herald")))
	require.NoError(t, os.Rename(filepath.Join(dir, "chatapi"), filepath.Join(dir, "herald-provider-chatapi")))
	rates := []float64{0}
	if rate > 0 {
		rates = append(rates, float64(rate))
	}
	for _, rate := range rates {
		shape := "closed loop (as fast as each system answers)"
		if rate > 0 {
			shape = fmt.Sprintf("open loop at %.0f webhooks/s", rate)
		}
		var all [][]scaleout.Result
		for i := range runs {
			cfg := scaleout.Config{Bin: dir, DSN: dsn, Clients: 32, Rate: rate, Warmup: 2 * time.Second, Duration: 10 * time.Second,
				SQLite: true, Profile: os.Getenv("HERALD_BENCH_SCALEOUT_PROFILE")}
			results, err := scaleout.Run(t.Context(), cfg)
			fmt.Printf("\nrun %d of %d: webhook → one-step workflow → sandbox; 32 clients, %s; 10 s measured after 2 s warm-up\n", i+1, runs, shape)
			require.NoError(t, scaleout.Print(os.Stdout, results))
			require.NoError(t, err)
			require.Len(t, results, 4)
			all = append(all, results)
		}
		fmt.Printf("\nmedians of %d runs: 32 clients, %s\n", runs, shape)
		require.NoError(t, scaleout.Print(os.Stdout, scaleout.Median(all)))
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}
