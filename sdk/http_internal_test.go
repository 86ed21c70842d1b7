package sdk

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHTTPClientDropsTimeoutBehindContext checks that a request whose
// context ends before the client's timeout goes through a copy of the
// client without the timeout, and any other through the client itself.
func TestHTTPClientDropsTimeoutBehindContext(t *testing.T) {
	t.Parallel()
	h := NewHTTP(30 * time.Second)
	require.Same(t, h.Client, h.client(context.Background()))

	late, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.Same(t, h.Client, h.client(late))

	early, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := h.client(early)
	require.NotSame(t, h.Client, c)
	require.Zero(t, c.Timeout)
	require.Same(t, h.Client.Transport, c.Transport)
	require.Equal(t, 30*time.Second, h.Client.Timeout)
}
