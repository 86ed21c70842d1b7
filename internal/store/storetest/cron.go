package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testCron checks the cron scheduler state.
func testCron(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("UnknownTriggerIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.s.CronState(b.ctx, "oncall-digest", "0")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("SetThenGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		want := store.CronState{Workflow: "oncall-digest", Trigger: "0", Last: base, Next: base.Add(24 * time.Hour)}
		require.NoError(t, b.s.SetCronState(b.ctx, want))
		got, err := b.s.CronState(b.ctx, "oncall-digest", "0")
		require.NoError(t, err)
		requireCron(t, want, got)
	})

	t.Run("SetReplaces", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := store.CronState{Workflow: "w", Trigger: "0", Next: base}
		require.NoError(t, b.s.SetCronState(b.ctx, first))
		second := store.CronState{Workflow: "w", Trigger: "0", Last: base, Next: base.Add(time.Hour)}
		require.NoError(t, b.s.SetCronState(b.ctx, second))
		got, err := b.s.CronState(b.ctx, "w", "0")
		require.NoError(t, err)
		requireCron(t, second, got)
	})

	t.Run("NeverFiredKeepsAZeroLast", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		want := store.CronState{Workflow: "w", Trigger: "0", Next: base}
		require.NoError(t, b.s.SetCronState(b.ctx, want))
		got, err := b.s.CronState(b.ctx, "w", "0")
		require.NoError(t, err)
		require.True(t, got.Last.IsZero())
		requireCron(t, want, got)
	})

	t.Run("TriggersAreIndependent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		states := []store.CronState{
			{Workflow: "a", Trigger: "0", Next: base.Add(1 * time.Hour)},
			{Workflow: "a", Trigger: "1", Next: base.Add(2 * time.Hour)},
			{Workflow: "b", Trigger: "0", Next: base.Add(3 * time.Hour)},
		}
		for _, st := range states {
			require.NoError(t, b.s.SetCronState(b.ctx, st))
		}
		for _, want := range states {
			got, err := b.s.CronState(b.ctx, want.Workflow, want.Trigger)
			require.NoError(t, err)
			requireCron(t, want, got)
		}
	})

	t.Run("InvalidStateIsRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.ErrorIs(t, b.s.SetCronState(b.ctx, store.CronState{Trigger: "0", Next: base}), store.ErrInvalid)
		require.ErrorIs(t, b.s.SetCronState(b.ctx, store.CronState{Workflow: "w", Next: base}), store.ErrInvalid)
		_, err := b.s.CronState(b.ctx, "w", "")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// requireCron fails t unless got holds what want does.
func requireCron(t *testing.T, want, got store.CronState) {
	t.Helper()
	require.Equal(t, want.Workflow, got.Workflow)
	require.Equal(t, want.Trigger, got.Trigger)
	requireTime(t, want.Last, got.Last)
	requireTime(t, want.Next, got.Next)
}
