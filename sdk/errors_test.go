package sdk_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestErrorConstructors(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	e := sdk.Retryable(base)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Equal(t, "boom", e.Error())
	require.ErrorIs(t, e, base)

	e = sdk.RateLimited(3*time.Second, base)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, 3*time.Second, e.RetryAfter)

	e = sdk.InvalidInput("to.mobile", "must have %d digits", 11)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "to.mobile: must have 11 digits", e.Error())

	require.Equal(t, "permanent error", sdk.Permanent(nil).Error())
	require.Nil(t, sdk.AsError(nil))
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(base).Class, "unclassified errors are retryable")
}

func TestReclassifyKeepsDetailsAndContext(t *testing.T) {
	t.Parallel()
	inner := sdk.InvalidInput("contact.email", "is not an address")
	inner.StatusCode = 422

	// Reclassifying the error itself changes only the class.
	e := sdk.Retryable(inner)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Equal(t, "contact.email: is not an address", e.Error())
	require.Equal(t, 422, e.StatusCode)
	require.ErrorIs(t, e, inner)

	// Context wrapped around it is kept, the field prefix is not repeated.
	e = sdk.Permanent(fmt.Errorf("create contact: %w", inner))
	require.Equal(t, "contact.email: create contact: is not an address", e.Error())
	require.Equal(t, "contact.email", e.Field)
	require.Equal(t, 422, e.StatusCode)

	rl := sdk.RateLimited(7*time.Second, errors.New("slow down"))
	e = sdk.Retryable(fmt.Errorf("search contacts: %w", rl))
	require.Equal(t, "search contacts: slow down", e.Message)
	require.Equal(t, 7*time.Second, e.RetryAfter)
}
