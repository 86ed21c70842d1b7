package fake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
)

// serve mounts a fake under /chatwoot, as `herald sandbox` does.
func serve(t *testing.T) (*fake.Fake, string) {
	t.Helper()
	f := fake.New()
	sb := sandbox.New()
	sb.Mount("chatwoot", "/chatwoot", f)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/chatwoot"
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("api_access_token", token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "body %s", raw)
	return resp.StatusCode, m
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	_, base := serve(t)
	url := base + "/api/v1/accounts/1/contacts/search?q=a"

	status, body := call(t, "GET", url, "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, map[string]any{"errors": []any{"You need to sign in or sign up before continuing."}}, body)

	status, body = call(t, "GET", url, "wrong", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, map[string]any{"error": "Invalid Access Token"}, body)

	status, body = call(t, "GET", base+"/api/v1/accounts/2/contacts/search?q=a", fake.DefaultToken, "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, map[string]any{"error": "You are not authorized to access this account"}, body)

	status, _ = call(t, "GET", url, fake.DefaultToken, "")
	require.Equal(t, http.StatusOK, status)
}

func TestContactLifecycle(t *testing.T) {
	t.Parallel()
	f, base := serve(t)
	acct := base + "/api/v1/accounts/1"

	status, body := call(t, "POST", acct+"/contacts", fake.DefaultToken, `{"inbox_id":1,"name":"Jane","email":"Jane@Example.com","phone_number":"+14155550123"}`)
	require.Equal(t, http.StatusOK, status)
	payload := body["payload"].(map[string]any)
	contact := payload["contact"].(map[string]any)
	require.Equal(t, "jane@example.com", contact["email"], "emails are stored in lower case")
	require.Nil(t, contact["identifier"])
	ci := payload["contact_inbox"].(map[string]any)
	sourceID := ci["source_id"].(string)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, sourceID)
	require.Len(t, contact["contact_inboxes"], 1)

	status, body = call(t, "POST", acct+"/contacts", fake.DefaultToken, `{"email":"jane@example.com","phone_number":"4155550123"}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, map[string]any{
		"message":    "Phone number should be in e164 format, Email has already been taken",
		"attributes": []any{"phone_number", "email"},
	}, body)

	status, body = call(t, "GET", acct+"/contacts/search", fake.DefaultToken, "")
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, "Specify search string with parameter q", body["error"])

	status, body = call(t, "GET", acct+"/contacts/search?q=JANE", fake.DefaultToken, "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["payload"], 1, "names and emails match case-insensitively")
	require.Equal(t, map[string]any{"count": 1.0, "current_page": 1.0, "has_more": false}, body["meta"])

	status, body = call(t, "POST", acct+"/conversations", fake.DefaultToken, `{"source_id":"`+sourceID+`","message":{"content":"hello"}}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "open", body["status"])
	require.Len(t, body["messages"], 1)
	convID := body["id"].(float64)

	status, body = call(t, "POST", acct+"/conversations", fake.DefaultToken, `{"source_id":"no-such-session"}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "Resource could not be found", body["error"])

	status, body = call(t, "POST", acct+"/conversations/"+jsonNum(convID)+"/messages", fake.DefaultToken, `{"content":"hi","message_type":"incoming","echo_id":"e-1"}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 0.0, body["message_type"], "message_type is rendered as its enum integer")
	require.Equal(t, "e-1", body["echo_id"])
	require.Equal(t, "contact", body["sender"].(map[string]any)["type"])

	require.Len(t, f.Messages(), 2)
	require.Equal(t, "e-1", f.Messages()[1].EchoID)
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	_, base := serve(t)
	status, body := call(t, "GET", base+"/api/v1/accounts/1/nothing", fake.DefaultToken, "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "Resource could not be found", body["error"])
}

func TestSignMatchesChatwootVector(t *testing.T) {
	t.Parallel()
	// From webhook_signature_example.json, checked in full by the provider's tests.
	body := `{"a":1}`
	sig := fake.Sign("s3cret", 1781082943, []byte(body))
	require.Regexp(t, `^sha256=[0-9a-f]{64}$`, sig)
	require.NotEqual(t, sig, fake.Sign("s3cret", 1781082944, []byte(body)), "the timestamp is signed")
	require.NotEqual(t, sig, fake.Sign("other", 1781082943, []byte(body)), "the secret is the key")
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
