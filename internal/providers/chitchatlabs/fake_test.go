package chitchatlabs

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chitchatlabs/fake"
	"github.com/heraldhq/herald/internal/sandbox"
)

// serveFake serves a fake under /chitchatlabs in a sandbox, as `herald
// sandbox` does, and returns it with its base URL.
func serveFake(t *testing.T) (*fake.Fake, string) {
	t.Helper()
	f := fake.New()
	sb := sandbox.New()
	sb.Mount("chitchatlabs", "/chitchatlabs", f)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/chitchatlabs"
}

// post sends body to the fake with key and returns the status and the
// decoded JSON answer.
func post(t *testing.T, url, key string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(APIKeyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v), "answer is not a JSON object: %s", data)
	return resp.StatusCode, v
}

func TestFakeAcceptsTheFixtureRequests(t *testing.T) {
	t.Parallel()
	f, base := serveFake(t)
	status, got := post(t, base+fake.SinglePath, fake.DefaultAPIKey, fixture(t, "message_single.request.json"))
	require.Equal(t, http.StatusOK, status, "%v", got)
	require.Equal(t, map[string]any{"status": "accepted", "id": "single_000001"}, got)
	status, got = post(t, base+fake.BlastPath, fake.DefaultAPIKey, fixture(t, "message_blast.request.json"))
	require.Equal(t, http.StatusOK, status, "%v", got)
	require.Equal(t, map[string]any{"status": "accepted", "id": "blast_000002"}, got)

	accepted := f.Accepted()
	require.Len(t, accepted, 2)
	var blast map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "message_blast.request.json"), &blast))
	require.Equal(t, "blast", accepted[1].Kind)
	require.Equal(t, blast, accepted[1].Body, "the fake keeps the body as received, placeholders included")
}

func TestFakeRejectsBadAuthAndBadRequests(t *testing.T) {
	t.Parallel()
	f, base := serveFake(t)
	single := string(fixture(t, "message_single.request.json"))
	cases := []struct {
		name, path, key, body string
		status                int
	}{
		{"no key", fake.SinglePath, "", single, http.StatusUnauthorized},
		{"wrong key", fake.SinglePath, "nope", single, http.StatusUnauthorized},
		{"not JSON", fake.SinglePath, fake.DefaultAPIKey, "to=919739978284", http.StatusBadRequest},
		{"no recipient", fake.SinglePath, fake.DefaultAPIKey, `{"fb_template": "t", "language": "en"}`, http.StatusBadRequest},
		{"mobile with a plus", fake.SinglePath, fake.DefaultAPIKey, `{"to": {"mobile": "+919739978284"}, "fb_template": "t", "language": "en"}`, http.StatusBadRequest},
		{"no template", fake.SinglePath, fake.DefaultAPIKey, `{"to": {"mobile": "919739978284"}, "language": "en"}`, http.StatusBadRequest},
		{"number as param", fake.SinglePath, fake.DefaultAPIKey, `{"to": {"mobile": "919739978284"}, "fb_template": "t", "language": "en", "params": [1]}`, http.StatusBadRequest},
		{"audio file", fake.SinglePath, fake.DefaultAPIKey, `{"to": {"mobile": "919739978284"}, "fb_template": "t", "language": "en", "file": {"type": "audio", "link": "https://x/a"}}`, http.StatusBadRequest},
		{"blast without searchSpec", fake.BlastPath, fake.DefaultAPIKey, `{"fb_template": "t", "language": "en"}`, http.StatusBadRequest},
		{"blast with snake_case search_spec", fake.BlastPath, fake.DefaultAPIKey, `{"search_spec": {"name": "P"}, "fb_template": "t", "language": "en"}`, http.StatusBadRequest},
		{"unknown path", "/chat-service/apis/message/bulk", fake.DefaultAPIKey, single, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := post(t, base+tc.path, tc.key, []byte(tc.body))
			require.Equal(t, tc.status, status, "%v", got)
			require.NotEmpty(t, got["error"])
			require.Len(t, got, 1, "errors are {\"error\": …}")
		})
	}
	require.Empty(t, f.Accepted())
}
