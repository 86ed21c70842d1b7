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
	m := metrics.New()
	var types []engine.EventType
	canceledBeforeItsTake(t, func(ev engine.Event) {
		if ev.RunID != "" {
			types = append(types, ev.Type)
			m.Observe(ev)
		}
	})

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

// canceledBeforeItsTake executes a fresh one-step run that a second process
// (another Store and Engine on the same SQLite file) cancels as soon as this
// engine announces it (RunStarted), before its deferred take. observe sees
// this engine's events. It returns the run as Execute did, and a function
// that opens one more Store on the file.
func canceledBeforeItsTake(t *testing.T, observe engine.Observer) (store.Run, func() *sqlitestore.Store) {
	t.Helper()
	open := sharedSQLiteFile(t)
	other, _ := oneStepEngine(t, open(), true, nil)
	e, _ := oneStepEngine(t, open(), true, func(ev engine.Event) {
		if ev.Type == engine.RunStarted {
			got, err := other.Cancel(context.Background(), ev.RunID, "other-host", 0)
			require.NoError(t, err)
			require.Equal(t, engine.Canceled, got, "the other process ends the queued run itself")
		}
		observe(ev)
	})
	ctx := context.Background()
	run, _, err := e.Create(ctx, "one", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}, "", 0)
	require.NoError(t, err)
	final, err := e.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, final.Status)
	return final, open
}

// sharedSQLiteFile returns a function that opens one more Store on a single
// SQLite file, as another process would.
func sharedSQLiteFile(t *testing.T) func() *sqlitestore.Store {
	path := filepath.Join(t.TempDir(), "herald.db")
	return func() *sqlitestore.Store {
		st, err := sqlitestore.Open(context.Background(), path)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
}
