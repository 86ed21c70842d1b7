package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// TestRunEndedBeforeItsDeferredTakeLeavesTheGauge is the scenario of
// TestRunChangedBeforeItsDeferredTakeIsNotSent seen by the metrics: the run
// announced by RunStarted is ended by another process before this one took
// it, so it is released, and herald_runs_in_progress is back to zero.
func TestRunEndedBeforeItsDeferredTakeLeavesTheGauge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	open := func() *sqlitestore.Store {
		st, err := sqlitestore.Open(context.Background(), path)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	other, _ := oneStepEngine(t, open(), true, nil)
	m := metrics.New()
	var types []engine.EventType
	e, _ := oneStepEngine(t, open(), true, func(ev engine.Event) {
		if ev.RunID == "" {
			return
		}
		types = append(types, ev.Type)
		if ev.Type == engine.RunStarted {
			_, err := other.Cancel(context.Background(), ev.RunID, "other-host", 0)
			require.NoError(t, err)
		}
		m.Observe(ev)
	})
	ctx := context.Background()
	run, _, err := e.Create(ctx, "one", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}, "", 0)
	require.NoError(t, err)
	final, err := e.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, final.Status)

	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == "herald_runs_in_progress" {
			for _, s := range f.GetMetric() {
				require.Zero(t, s.GetGauge().GetValue(), "herald_runs_in_progress%v", s.GetLabel())
			}
		}
	}
	require.Equal(t, engine.RunStarted, types[0])
	require.Equal(t, engine.RunReleased, types[len(types)-1], "events: %v", types)
	require.NotContains(t, types, engine.RunFinished, "this process did not end the run")
}
