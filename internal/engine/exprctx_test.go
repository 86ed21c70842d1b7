package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
)

type ctxKey struct{}

// TestExprContextIsADeadlineMadeWhenAskedFor checks exprContext's context
// against context.WithTimeoutCause: its deadline, values, parent's
// cancellation and cause; once Done is asked for it ends at the step
// timeout with the timeout's cause; canceled before, it is done. And it
// costs two allocations (itself and its cancel) when no one asks for
// Done, where context.WithTimeoutCause costs four and a timer.
func TestExprContextIsADeadlineMadeWhenAskedFor(t *testing.T) {
	step := &config.Step{ID: "s", Timeout: 30 * time.Millisecond}
	parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	ctx, cancel := exprContext(parent, step)
	dl, ok := ctx.Deadline()
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(30*time.Millisecond), dl, 20*time.Millisecond)
	require.Equal(t, "v", ctx.Value(ctxKey{}))
	require.NoError(t, ctx.Err())
	stop := errors.New("host stopping")
	cancelParent(stop)
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	require.Equal(t, stop, context.Cause(ctx))
	cancel()

	// Asked for Done, it ends at the deadline with the step timeout's cause.
	ctx, cancel = exprContext(context.Background(), step)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done at the deadline")
	}
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	require.EqualError(t, context.Cause(ctx), "the step timeout of 30ms was reached")
	require.Equal(t, ctx.Done(), ctx.Done())
	cancel()
	cancel()

	// Canceled before anyone asked, it is done.
	ctx, cancel = exprContext(context.Background(), step)
	cancel()
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	select {
	case <-ctx.Done():
	default:
		t.Fatal("a canceled context is not done")
	}

	// Made and canceled, it is canceled.
	ctx, cancel = exprContext(context.Background(), &config.Step{ID: "s"})
	done := ctx.Done()
	cancel()
	<-done
	require.ErrorIs(t, ctx.Err(), context.Canceled)

	parent, cancelParent = context.WithCancelCause(context.Background())
	defer cancelParent(nil)
	n := testing.AllocsPerRun(100, func() {
		_, cancel := exprContext(parent, step)
		cancel()
	})
	require.LessOrEqual(t, n, 2.0)
}
