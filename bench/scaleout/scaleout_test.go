package scaleout_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/bench/load"
	"github.com/heraldhq/herald/bench/scaleout"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/testbin"
)

// TestScaleOut prints the scale-out benchmark's table. It takes half a
// minute of a loaded machine, so it runs only with HERALD_BENCH_SCALEOUT=1
// (and PostgreSQL):
//
//	HERALD_BENCH_SCALEOUT=1 go test ./bench/scaleout -run TestScaleOut -v
func TestScaleOut(t *testing.T) {
	if os.Getenv("HERALD_BENCH_SCALEOUT") != "1" {
		t.Skip("HERALD_BENCH_SCALEOUT is not 1; skipping the scale-out benchmark")
	}
	dsn := pgtest.DSN(t)
	pgtest.Shared(t)
	dir := testbin.Build(t, "github.com/heraldhq/herald/cmd/host", "github.com/heraldhq/herald/plugins/chatapi", "github.com/heraldhq/herald/bench/floor")
	require.NoError(t, os.Rename(filepath.Join(dir, "host"), filepath.Join(dir, "herald")))
	require.NoError(t, os.Rename(filepath.Join(dir, "chatapi"), filepath.Join(dir, "herald-provider-chatapi")))
	for _, rate := range []float64{0, 200} {
		cfg := scaleout.Config{Bin: dir, DSN: dsn, Clients: 32, Rate: rate, Warmup: 2 * time.Second, Duration: 10 * time.Second}
		results, err := scaleout.Run(t.Context(), cfg)
		shape := "closed loop (as fast as each system answers)"
		if rate > 0 {
			shape = fmt.Sprintf("open loop at %.0f webhooks/s", rate)
		}
		fmt.Printf("\nwebhook → one-step workflow → sandbox; 32 clients, %s; 10 s measured after 2 s warm-up\n", shape)
		require.NoError(t, load.Print(os.Stdout, results))
		require.NoError(t, err)
		require.Len(t, results, 3)
	}
}
