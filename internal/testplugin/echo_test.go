package testplugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, testplugin.New(), sdktest.Options{
		Config: func(baseURL string) map[string]any {
			return map[string]any{"api_url": baseURL, "token": "echo-secret-token/42", "webhook_token": "hook-secret-99"}
		},
		Fake: testplugin.Fake(),
		Inputs: map[string]map[string]any{
			"echo":    {"message": "hello", "n": 1},
			"sleep":   {"ms": 1},
			"count":   {},
			"send":    {"message": "hello", "priority": "high"},
			"log":     {"level": "info", "message": "conformance"},
			"environ": {},
		},
		Skip: []string{
			"fail",  // fails by design; its classes are checked over gRPC in TestFailClasses
			"crash", // exits the process, which here is the test binary
		},
	})
}

func setup(t *testing.T, config map[string]any) sdk.Client {
	t.Helper()
	client := sdktest.Serve(t, testplugin.New())
	raw, err := json.Marshal(config)
	require.NoError(t, err)
	require.NoError(t, client.Configure(context.Background(), "test", raw))
	return client
}

func TestFailClasses(t *testing.T) {
	t.Parallel()
	client := setup(t, map[string]any{})
	invoke := func(input string) *sdk.Error {
		_, err := client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "test", Action: "fail", Input: json.RawMessage(input)})
		require.Error(t, err)
		return sdk.AsError(err)
	}
	e := invoke(`{"class": "rate_limited", "retry_after_ms": 1500, "message": "slow down"}`)
	require.Equal(t, sdk.ClassRateLimited, e.Class)
	require.Equal(t, int64(1500), e.RetryAfter.Milliseconds())
	require.Equal(t, "slow down", e.Message)

	e = invoke(`{"class": "permanent", "field": "to.mobile"}`)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "to.mobile", e.Field)
	require.Equal(t, "echo failed on purpose", e.Message)

	e = invoke(`{"class": "retryable"}`)
	require.Equal(t, sdk.ClassRetryable, e.Class)
}

func TestCountIsPerInstance(t *testing.T) {
	t.Parallel()
	client := setup(t, map[string]any{})
	require.NoError(t, client.Configure(context.Background(), "other", json.RawMessage(`{}`)))
	count := func(instance string) int {
		out, err := client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: instance, Action: "count"})
		require.NoError(t, err)
		var v struct{ Count int }
		require.NoError(t, json.Unmarshal(out, &v))
		return v.Count
	}
	require.Equal(t, 1, count("test"))
	require.Equal(t, 2, count("test"))
	require.Equal(t, 1, count("other"))
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	client := setup(t, map[string]any{"webhook_token": "hook-secret"})
	req := func(token, body string) *sdk.WebhookRequest {
		return &sdk.WebhookRequest{
			Instance: "test",
			Method:   http.MethodPost,
			Path:     "/providers/test/webhook",
			Header:   http.Header{"X-Echo-Delivery": {"d1"}},
			Query:    url.Values{"token": {token}},
			Body:     []byte(body),
		}
	}

	events, err := client.HandleWebhook(context.Background(), req("hook-secret", `[{"a":1},{"b":2}]`))
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, testplugin.EventReceived, events[0].Type)
	require.Equal(t, "d1-0", events[0].ID)
	require.JSONEq(t, `{"b":2}`, string(events[1].Data))

	events, err = client.HandleWebhook(context.Background(), req("hook-secret", `{"a":1}`))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "d1", events[0].ID)

	_, err = client.HandleWebhook(context.Background(), req("wrong", `{"a":1}`))
	var uv *sdk.UnverifiedError
	require.ErrorAs(t, err, &uv)
}
