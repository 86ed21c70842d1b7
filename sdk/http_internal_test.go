package sdk

import (
	"context"
	"net/http"
	"net/url"
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
	h.Client = &http.Client{Timeout: 30 * time.Second, Transport: h.Client.Transport}
	c, _, _, cancel := h.client(context.Background())
	cancel()
	require.Same(t, h.Client, c)

	late, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, _, cancel = h.client(late)
	cancel()
	require.Same(t, h.Client, c)

	early, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, ctx, cancel := h.client(early)
	cancel()
	require.NotSame(t, h.Client, c)
	require.Zero(t, c.Timeout)
	require.Same(t, h.Client.Transport, c.Transport)
	require.Equal(t, 30*time.Second, h.Client.Timeout)
	require.Equal(t, early, ctx)
}

// TestHTTPClientDirect checks that NewHTTP's client, left in place, sends
// through the direct transport with its timeout as the context's deadline,
// and that replacing the client or its transport turns the direct path off.
func TestHTTPClientDirect(t *testing.T) {
	t.Parallel()
	h := NewHTTP(30 * time.Second)
	c, direct, ctx, cancel := h.client(context.Background())
	defer cancel()
	require.Same(t, h.direct, direct)
	require.Same(t, h.Client, c)
	deadline, ok := ctx.Deadline()
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(30*time.Second), deadline, 5*time.Second)

	early, cancelEarly := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelEarly()
	_, direct, ctx, cancel = h.client(early)
	defer cancel()
	require.Same(t, h.direct, direct)
	require.Equal(t, early, ctx, "a sooner deadline is left as it is")

	h.Client.Transport = http.DefaultTransport
	c, direct, _, cancel = h.client(context.Background())
	defer cancel()
	require.Same(t, h.Client, c)
	require.Nil(t, direct)

	h = NewHTTP(30 * time.Second)
	h.Client = &http.Client{Transport: h.Client.Transport}
	c, direct, _, cancel = h.client(context.Background())
	defer cancel()
	require.Same(t, h.Client, c)
	require.Nil(t, direct)
}

// TestAppendQuery holds appendQuery to url.Values.Encode.
func TestAppendQuery(t *testing.T) {
	t.Parallel()
	for _, q := range []url.Values{
		{"token": {"abc"}},
		{"to ken": {"a b&c=d/é?"}},
		{"token": {""}},
		{"token": {"a", "b"}},
		{"token": {}},
		{"b": {"2"}, "a": {"1"}},
	} {
		require.Equal(t, "https://x/y?"+q.Encode(), appendQuery("https://x/y", "?", q), "%v", q)
	}
}
