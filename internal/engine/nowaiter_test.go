package engine_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// A run started eagerly for a request that will not wait for it
// (Trigger.NoWaiter, a webhook answered 202) keeps no record of its writes
// in memory: its RunFinished event carries no run object, which a waiter
// would read from the store. A run whose creator may wait carries it, built
// as the store would give it.
func TestNoWaiterRunCarriesNoRunObject(t *testing.T) {
	t.Parallel()
	lite, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { lite.Close() })
	var (
		mu       sync.Mutex
		finished = map[string]*engine.FinishedRun{}
	)
	e := engineOn(t, lite, gatedStep, func(ev engine.Event) {
		if ev.Type == engine.RunFinished {
			mu.Lock()
			finished[ev.RunID] = ev.Run
			mu.Unlock()
		}
	})
	ctx := context.Background()
	for _, noWaiter := range []bool{false, true} {
		trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a", "vip": true}, NoWaiter: noWaiter}
		a, err := e.NewAdmission(ctx, "one", trig)
		require.NoError(t, err)
		run, err := e.ExecuteNew(ctx, a)
		require.NoError(t, err)
		require.Equal(t, store.StatusSucceeded, run.Status)
		mu.Lock()
		fr, ok := finished[run.ID]
		mu.Unlock()
		require.True(t, ok, "run_finished was emitted")
		if noWaiter {
			require.Nil(t, fr, "no run object is kept for a run no one waits for")
			continue
		}
		require.NotNil(t, fr)
		got, err := fr.View(ctx)
		require.NoError(t, err)
		want, err := engine.View(ctx, lite, run.ID)
		require.NoError(t, err)
		require.Equal(t, want.Steps, got.Steps)
		require.Equal(t, want.Status, got.Status)
	}
}
