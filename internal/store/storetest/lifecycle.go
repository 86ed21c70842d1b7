package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testLifecycle checks Ping, Close and cancelled contexts.
func testLifecycle(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("PingAnswers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.s.Ping(b.ctx))
	})

	t.Run("CloseIsFinalAndRepeatable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.s.Close())
		require.NoError(t, b.s.Close(), "a second Close returns nil")
		require.Error(t, b.s.Ping(b.ctx))
		_, _, err := b.s.CreateRun(b.ctx, newRun("w", 0), "", 0)
		require.Error(t, err)
	})

	t.Run("CancelledContextStopsTheCall", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ctx, cancel := context.WithCancel(b.ctx)
		cancel()
		run := newRun("w", 0)
		_, _, err := b.s.CreateRun(ctx, run, "api:w:k", time.Hour)
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.s.ListRuns(ctx, store.RunFilter{})
		require.ErrorIs(t, err, context.Canceled)

		_, err = b.s.GetRun(b.ctx, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
	})
}
