package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/sdk"
)

const chatwootDelivery = `{"event":"message_created","id":7}`

func TestProviderWebhookPassesRequest(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	f.rt.webhook = func(_ context.Context, instance string, req *sdk.WebhookRequest) ([]string, error) {
		require.Equal(t, "support", instance)
		return []string{"run-a", "run-b"}, nil
	}
	// No API token: the plugin authenticates provider webhooks.
	w := f.do(t, "POST", "/providers/support/webhook?token=t1", strReader(chatwootDelivery),
		"X-Chatwoot-Signature", "sha256=abc", "X-Chatwoot-Timestamp", "1700000000", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, []string{"run-a", "run-b"}, runIDs(t, w))

	require.Len(t, f.rt.webhookReqs, 1)
	req := f.rt.webhookReqs[0]
	require.Equal(t, "support", req.Instance)
	require.Equal(t, "POST", req.Method)
	require.Equal(t, "/providers/support/webhook", req.Path)
	require.Equal(t, "sha256=abc", req.Header.Get("X-Chatwoot-Signature"))
	require.Equal(t, "1700000000", req.Header.Get("X-Chatwoot-Timestamp"))
	require.Equal(t, "t1", req.Query.Get("token"))
	require.Equal(t, chatwootDelivery, string(req.Body))
}

func TestProviderWebhookEmptyBody(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "POST", "/providers/support/webhook", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotNil(t, f.rt.webhookReqs[0].Body, "the plugin gets an empty body, not nil")
	require.Empty(t, f.rt.webhookReqs[0].Body)
}

func TestProviderWebhookReplayStartsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.rt.webhook = func(context.Context, string, *sdk.WebhookRequest) ([]string, error) { return nil, nil }
	w := f.do(t, "POST", "/providers/support/webhook", strReader(chatwootDelivery))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"run_ids":[]}`, w.Body.String())
}

func TestProviderWebhookErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		err        error
		code       int
		want       string
		retryAfter string
	}{
		{name: "unverified", err: sdk.Unverified("signature does not match (secret %s)", chatapiToken), code: http.StatusUnauthorized, want: "webhook verification failed: signature does not match"},
		{name: "wrapped unverified", err: fmt.Errorf("plugin chatwoot: %w", sdk.Unverified("stale timestamp")), code: http.StatusUnauthorized, want: "stale timestamp"},
		{name: "unknown instance", err: fmt.Errorf("%w %q", sdk.ErrUnknownInstance, "support"), code: http.StatusNotFound, want: "unknown instance"},
		{name: "no webhooks", err: sdk.Permanent(fmt.Errorf("%w: chatwoot", sdk.ErrNoWebhooks)), code: http.StatusNotFound, want: "does not handle webhooks"},
		{name: "malformed payload", err: sdk.Permanent(errors.New("payload is not JSON")), code: http.StatusBadRequest, want: "payload is not JSON"},
		{name: "plugin restarting", err: sdk.Retryable(errors.New("plugin is restarting")), code: http.StatusServiceUnavailable, want: "plugin is restarting", retryAfter: "5"},
		{name: "rate limited", err: sdk.RateLimited(1500*time.Millisecond, errors.New("slow down")), code: http.StatusServiceUnavailable, want: "slow down", retryAfter: "2"},
		{name: "busy", err: fmt.Errorf("%w: too many runs queued", httpapi.ErrUnavailable), code: http.StatusServiceUnavailable, want: "too many runs queued", retryAfter: "5"},
		{name: "deadline", err: context.DeadlineExceeded, code: http.StatusServiceUnavailable, want: "deadline exceeded", retryAfter: "5"},
		{name: "internal", err: errorWithSecret(), code: http.StatusInternalServerError, want: "internal error: provider webhook failed; see the host log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, "")
			f.rt.webhook = func(context.Context, string, *sdk.WebhookRequest) ([]string, error) { return nil, tc.err }
			w := f.do(t, "POST", "/providers/support/webhook", strReader(chatwootDelivery))
			require.Contains(t, errorOf(t, w, tc.code), tc.want)
			require.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
			requireNoSecret(t, w.Body.String())
		})
	}
}

func TestProviderWebhookUnknownInstance(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "POST", "/providers/nope/webhook", strReader(chatwootDelivery))
	require.Contains(t, errorOf(t, w, http.StatusNotFound), `no provider instance "nope"`)
	require.Empty(t, f.rt.webhookReqs, "the runtime is not asked about an instance the project lacks")
}

func TestProviderWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	body := strings.Repeat("x", int(httpapi.DefaultMaxBody)+1)
	w := f.do(t, "POST", "/providers/support/webhook", strReader(body))
	errorOf(t, w, http.StatusRequestEntityTooLarge)
	require.Empty(t, f.rt.webhookReqs)
}
