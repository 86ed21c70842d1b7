package chatwoot_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

// TestErrorClasses checks how Chatwoot's failures reach the host, through
// the real gRPC transport: the class decides whether and when the host
// retries, and the message is Chatwoot's own.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	sendInput := map[string]any{"contact": map[string]any{"identifier": "crm-1"}, "content": "hi"}

	t.Run("429 with Retry-After is rate limited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Rack::Attack's throttled response.
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Status: http.StatusTooManyRequests, RetryAfter: 7, Body: "Retry later\n"})
		_, err := b.invoke(t, "send_message", sendInput)
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassRateLimited, e.Class, "error: %v", err)
		require.Equal(t, 7*time.Second, e.RetryAfter)
		require.Equal(t, http.StatusTooManyRequests, e.StatusCode)
		require.Contains(t, e.Message, "search contacts: provider answered HTTP 429: Retry later", "the failed step is named")
	})

	t.Run("500 is retryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Status: http.StatusInternalServerError,
			Body: `{"status":500,"error":"Internal Server Error"}`})
		_, err := b.invoke(t, "create_contact", map[string]any{"name": "x"})
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassRetryable, e.Class, "error: %v", err)
		require.Equal(t, http.StatusInternalServerError, e.StatusCode)
		require.Contains(t, e.Message, "Internal Server Error")
	})

	// The plugin answers a call whose deadline strikes a fifth of the time
	// left before the host's deadline, a second at most (sdk's
	// answerInTime): with 500 ms, 100 ms before, which a loaded machine's
	// stall can swallow, and the host's own deadline then makes the call in
	// doubt. With 5 s the plugin has its full second; without the margin
	// the host's deadline still strikes first.
	t.Run("a deadline during a lookup is retryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", LatencyMS: 60_000})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := invokeCtx(t, ctx, b.client, "send_message", sendInput)
		require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class, "a search changes nothing: %v", err)
		require.Less(t, time.Since(start), 30*time.Second, "the call must end at its deadline, not the fake's")
		require.Empty(t, b.fake.Contacts())
	})

	t.Run("a deadline after a create was written is in doubt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Method: http.MethodPost, LatencyMS: 10_000})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := invokeCtx(t, ctx, b.client, "send_message", sendInput)
		require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "the contact may have been created: %v", err)
	})

	t.Run("a lost answer to a lookup is retryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Method: http.MethodGet, PathPrefix: "/api/v1/accounts/1/contacts/search", Drop: sandbox.DropClose})
		_, err := b.invoke(t, "send_message", sendInput)
		require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class, "a search changes nothing: %v", err)
		require.Empty(t, b.fake.Contacts())
	})

	t.Run("a lost answer to a create is in doubt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Method: http.MethodPost, PathPrefix: "/api/v1/accounts/1/contacts", Drop: sandbox.DropClose})
		_, err := b.invoke(t, "send_message", sendInput)
		require.Equal(t, sdk.ClassInDoubt, sdk.AsError(err).Class, "the contact was created: %v", err)
		require.Len(t, b.fake.Contacts(), 1)
	})

	t.Run("401 is permanent with Chatwoot's message", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := fake.ProviderConfig(b.baseURL)
		cfg["api_access_token"] = "revoked-token-9f2c"
		b.configure(t, "revoked", cfg)
		_, err := b.invoke(t, "send_message", sendInput, func(r *sdk.InvokeRequest) { r.Instance = "revoked" })
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
		require.Equal(t, http.StatusUnauthorized, e.StatusCode)
		require.Contains(t, e.Message, "search contacts: provider answered HTTP 401: Invalid Access Token")
		require.NotContains(t, e.Message, "revoked-token-9f2c")
	})

	t.Run("422 is permanent with Chatwoot's message", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := map[string]any{"name": "Ada", "identifier": "crm-7", "phone_number": "+442071838750"}
		_, err := b.invoke(t, "create_contact", in)
		require.NoError(t, err)
		_, err = b.invoke(t, "create_contact", in)
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
		require.Equal(t, http.StatusUnprocessableEntity, e.StatusCode)
		require.Contains(t, e.Message, "Phone number has already been taken, Identifier has already been taken (phone_number, identifier)")
	})

	t.Run("404 is permanent with Chatwoot's message", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.invoke(t, "create_message", map[string]any{"conversation_id": 4242, "content": "hi"})
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
		require.Equal(t, http.StatusNotFound, e.StatusCode)
		require.Contains(t, e.Message, "Resource could not be found")
	})

	t.Run("a 2xx without the record is permanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", PathPrefix: "/api/v1/accounts/1/conversations", Status: http.StatusOK, Body: `{}`})
		_, err := b.invoke(t, "create_conversation", map[string]any{"source_id": "abc"})
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
		require.Contains(t, e.Message, "no conversation id")
	})

	t.Run("a 2xx that is not JSON is permanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Status: http.StatusOK, Body: `<html>maintenance</html>`})
		_, err := b.invoke(t, "search_contacts", map[string]any{"q": "x"})
		e := sdk.AsError(err)
		require.Equal(t, sdk.ClassPermanent, e.Class, "error: %v", err)
		require.Contains(t, e.Message, "unexpected contact search result")
	})
}

// TestErrorMessages checks the error body shapes Chatwoot renders, and the
// one its spec documents, all become the error's message.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"error":"Resource could not be found"}`:                                           "Resource could not be found",
		`{"message":"Email Invalid email","attributes":["email"]}`:                          "Email Invalid email (email)",
		`{"errors":["You need to sign in or sign up before continuing."]}`:                  "You need to sign in or sign up before continuing.",
		`{"description":"Bad request","errors":[{"field":"email","message":"is invalid"}]}`: "Bad request; email is invalid",
		`Retry later`: "Retry later",
	}
	for body, want := range cases {
		t.Run(want, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sandbox.AddFault(sandbox.Fault{Provider: "chatwoot", Status: http.StatusBadRequest, Body: body})
			_, err := b.invoke(t, "search_contacts", map[string]any{"q": "x"})
			e := sdk.AsError(err)
			require.Equal(t, sdk.ClassPermanent, e.Class)
			require.Equal(t, "provider answered HTTP 400: "+want, e.Message)
		})
	}
}
