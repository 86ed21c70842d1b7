package herald_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
)

// storeOldRuns writes one finished run per age into st, created and
// finished that long ago, and returns their IDs in the same order.
func storeOldRuns(ctx context.Context, t *testing.T, st herald.Store, ages ...time.Duration) []string {
	t.Helper()
	ids := make([]string, len(ages))
	for i, age := range ages {
		at := time.Now().Add(-age).UTC()
		run, _, err := st.CreateRun(ctx, herald.RunRecord{
			ID: "old-" + age.String(), Workflow: "echo", Status: "succeeded",
			Trigger: []byte(`{"kind":"manual"}`), Attempt: 1,
			CreatedAt: at, StartedAt: at, FinishedAt: at,
		}, "", 0)
		require.NoError(t, err)
		ids[i] = run.ID
	}
	return ids
}

// Serve prunes with Options.Retention: 30 days when zero, as herald serve
// does; a set retention; none with KeepAllRuns.
func TestServePrunesWithTheRetentionOption(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name      string
		retention time.Duration
		kept      []bool // of runs 40, 10 and 2 days old
	}{
		{"default 30 days", 0, []bool{false, true, true}},
		{"5 days", 5 * day, []bool{false, false, true}},
		{"keep all runs", herald.KeepAllRuns, []bool{true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxTimeout(t)
			st, err := herald.OpenStore(ctx, "sqlite://"+filepath.Join(t.TempDir(), "runs.db"))
			require.NoError(t, err)
			defer st.Close()
			ids := storeOldRuns(ctx, t, st, 40*day, 10*day, 2*day)
			f := setup(t, func(o *herald.Options) { o.Store, o.Retention = st, tc.retention })
			f.serve(t)
			// A run started while serving follows the prune, which
			// runs when Serve starts: once it is stored, so is the
			// pruning's outcome, or soon will be.
			run, err := f.h.Run(ctx, "echo", map[string]any{"text": "now"})
			require.NoError(t, err)
			want := func() bool {
				for i, id := range ids {
					_, err := f.h.Get(ctx, id)
					if gone := errors.Is(err, herald.ErrNotFound); gone == tc.kept[i] {
						return false
					}
				}
				return true
			}
			require.Eventually(t, want, 10*time.Second, 10*time.Millisecond, "runs kept: want %v (40, 10, 2 days old)", tc.kept)
			// And it stays so: nothing else is pruned, the new run least.
			time.Sleep(200 * time.Millisecond)
			require.True(t, want(), "runs kept: want %v (40, 10, 2 days old)", tc.kept)
			_, err = f.h.Get(ctx, run.ID)
			require.NoError(t, err)
		})
	}
}
