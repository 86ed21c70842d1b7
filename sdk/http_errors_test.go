package sdk_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// TestHTTPRetryAfterFromTheBody checks a provider reading the wait from the
// response body (Telegram's parameters.retry_after) and its message from
// "description", with no transport of its own.
func TestHTTPRetryAfterFromTheBody(t *testing.T) {
	t.Parallel()
	h := sdk.NewHTTP(5 * time.Second)
	h.RetryAfter = sdk.RetryAfterSeconds("parameters", "retry_after")
	const flood = `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`

	e := doStatus(t, h, 429, http.Header{"Retry-After": {"1"}}, flood)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, 5*time.Second, e.RetryAfter, "the body wins over the header")
	require.Equal(t, 429, e.StatusCode)
	require.Equal(t, "provider answered HTTP 429: Too Many Requests: retry after 5", e.Message)

	// A provider that signals flood control with another status is rate
	// limited all the same.
	e = doStatus(t, h, 400, nil, `{"ok":false,"description":"FLOOD_WAIT","parameters":{"retry_after":"2.5"}}`)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, 2500*time.Millisecond, e.RetryAfter)
	require.Equal(t, 400, e.StatusCode)

	// Without a wait in the body the status mapping is unchanged.
	e = doStatus(t, h, 400, nil, `{"ok":false,"description":"Bad Request: chat not found"}`)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "provider answered HTTP 400: Bad Request: chat not found", e.Message)
	e = doStatus(t, h, 429, http.Header{"Retry-After": {"3"}}, `not json`)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, 3*time.Second, e.RetryAfter, "the header still counts")

	// A custom hook sees the status; a huge wait is capped at a day.
	h2 := sdk.NewHTTP(5 * time.Second)
	h2.RetryAfter = func(status int, _ []byte) time.Duration {
		if status == 503 {
			return 1000 * time.Hour
		}
		return 0
	}
	e = doStatus(t, h2, 503, nil, `{}`)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, 24*time.Hour, e.RetryAfter)
	e = doStatus(t, h2, 502, nil, `{}`)
	require.Equal(t, sdk.ClassRetryable, e.Class)
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	f := sdk.RetryAfterSeconds("parameters", "retry_after")
	for body, want := range map[string]time.Duration{
		`{"parameters":{"retry_after":5}}`:     5 * time.Second,
		`{"parameters":{"retry_after":"0.5"}}`: 500 * time.Millisecond,
		`{"parameters":{"retry_after":-1}}`:    0,
		`{"parameters":{"retry_after":1e300}}`: 24 * time.Hour,
		`{"parameters":{"retry_after":true}}`:  0,
		`{"parameters":5}`:                     0,
		`[]`:                                   0,
		``:                                     0,
	} {
		require.Equal(t, want, f(429, []byte(body)), body)
	}
}

// FuzzRetryAfterSeconds checks that no body panics the hook or yields a
// negative wait or one above a day.
func FuzzRetryAfterSeconds(f *testing.F) {
	f.Add([]byte(`{"parameters":{"retry_after":5}}`))
	f.Add([]byte(`{"parameters":{"retry_after":"NaN"}}`))
	hook := sdk.RetryAfterSeconds("parameters", "retry_after")
	f.Fuzz(func(t *testing.T, body []byte) {
		if d := hook(429, body); d < 0 || d > 24*time.Hour {
			t.Fatalf("wait %v out of range", d)
		}
	})
}
