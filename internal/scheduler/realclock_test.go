package scheduler_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/scheduler"
)

// TestRealClockFiresOnTheSecond runs a six-field every-second schedule on the
// real clock and checks that each fire is handed over shortly after its
// second begins: the best within 50 ms, the median within 200 ms, none a
// second late. The bounds are generous, for loaded machines and -race (a
// timing bug shows as lags near a second); the benchmark measures the real
// figures. It is not parallel, so the package's other tests do not compete
// with it.
func TestRealClockFiresOnTheSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 4.5 seconds on the real clock")
	}
	var mu sync.Mutex
	var scheduled []time.Time
	var lags []time.Duration
	s, err := scheduler.New(scheduler.Options{
		Store: newMemStore(),
		Fire: func(_ context.Context, d scheduler.Due) error {
			lag := time.Since(d.ScheduledTime)
			mu.Lock()
			defer mu.Unlock()
			scheduled = append(scheduled, d.ScheduledTime)
			lags = append(lags, lag)
			return nil
		},
	})
	require.NoError(t, err)
	// catchup all: should the machine stall for a second, the fire it
	// skipped over is still handed over, late, and the test sees its lag.
	require.NoError(t, s.SetTriggers([]scheduler.Entry{entry("tick", cronTrigger(t, "*/1 * * * * *", "UTC", config.CatchupAll))}))
	ctx, cancel := context.WithTimeout(t.Context(), 4500*time.Millisecond)
	defer cancel()
	require.NoError(t, s.Run(ctx))

	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(scheduled), 3)
	for i, at := range scheduled {
		require.Zero(t, at.Nanosecond(), "fires are on the second")
		if i > 0 {
			require.Equal(t, time.Second, at.Sub(scheduled[i-1]), "no second is skipped or repeated")
		}
		require.GreaterOrEqual(t, lags[i], time.Duration(0), "never early")
		require.Less(t, lags[i], time.Second, "fire %d is a second late", i)
	}
	sorted := slices.Clone(lags)
	slices.Sort(sorted)
	require.Less(t, sorted[0], 50*time.Millisecond, "best lag, all lags %v", lags)
	require.Less(t, sorted[len(sorted)/2], 200*time.Millisecond, "median lag, all lags %v", lags)
}
