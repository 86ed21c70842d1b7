package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// TestCallScopeIsWhatItReplaces checks a callScope against
// sdk.WithExchange(context.WithoutCancel(parent), ex), the context it
// replaces, on a parent canceled with a cause: the same deadline, Done,
// Err, cause and values, its Exchange found by sdk.ExchangeFrom, also
// through a timeout derived from it.
func TestCallScopeIsWhatItReplaces(t *testing.T) {
	t.Parallel()
	require.NotNil(t, exchangeKey)

	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	cancel(errors.New("host stopping"))
	scope := &callScope{parent: parent}
	ref := sdk.WithExchange(context.WithoutCancel(parent), &scope.ex)
	for _, c := range []context.Context{ref, scope} {
		dl, ok := c.Deadline()
		require.False(t, ok)
		require.True(t, dl.IsZero())
		require.Nil(t, c.Done())
		require.NoError(t, c.Err())
		require.NoError(t, context.Cause(c))
		require.Equal(t, "v", c.Value(ctxKey{}))
		require.Same(t, &scope.ex, sdk.ExchangeFrom(c))
	}

	callCtx, stop := context.WithTimeout(scope, time.Hour)
	require.Same(t, &scope.ex, sdk.ExchangeFrom(callCtx))
	require.NoError(t, callCtx.Err())
	stop()
	require.ErrorIs(t, context.Cause(callCtx), context.Canceled)

	// A value context over it reads no parent's cause either.
	v := context.WithValue(scope, ctxKey{}, "w")
	require.NoError(t, context.Cause(v))
	require.Same(t, &scope.ex, sdk.ExchangeFrom(v))
}
