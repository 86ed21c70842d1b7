package herald_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
)

// TestWaitWithAnEndedCtxStillReturnsTheRun checks the promise of Wait when
// ctx has ended before the run could even be read, as a short deadline on
// a loaded host does: the run as it stands, with ctx's error.
func TestWaitWithAnEndedCtxStillReturnsTheRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	id, err := f.h.Start(ctx, "hold", map[string]any{"text": "ended"}, "")
	require.NoError(t, err)
	f.entered(t, "ended")

	ended, cancel := context.WithCancel(ctx)
	cancel()
	run, err := f.h.Wait(ended, id)
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, run)
	require.Equal(t, id, run.ID)
	require.Equal(t, herald.StatusRunning, run.Status)

	f.probe.release <- struct{}{}
	run, err = f.h.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
}
