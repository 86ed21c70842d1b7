package chatwoot_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/sdk"
)

// rendered decodes a dry-run output.
func rendered(t *testing.T, out map[string]any) []sdk.RenderedRequest {
	t.Helper()
	require.Equal(t, true, out["dry_run"], "output %v", out)
	raw, err := json.Marshal(out["requests"])
	require.NoError(t, err)
	var reqs []sdk.RenderedRequest
	require.NoError(t, json.Unmarshal(raw, &reqs))
	return reqs
}

func TestDryRunSendMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.invoke(t, "send_message", map[string]any{
		"contact": map[string]any{"identifier": "crm-0042", "phone_number": "+14155550123", "email": "jane@example.com", "name": "Jane"},
		"content": "Your order has shipped.",
	}, dryRun, func(r *sdk.InvokeRequest) {
		r.BodyOverride = json.RawMessage(`{"content_attributes":{"in_reply_to":9}}`)
	})
	require.NoError(t, err)
	reqs := rendered(t, out)

	base := b.baseURL + "/api/v1/accounts/1"
	type line struct{ Method, URL string }
	var got []line
	for _, r := range reqs {
		got = append(got, line{r.Method, r.URL})
		require.Equal(t, sdk.Masked, r.Header["Api_access_token"], "token masked in %s %s", r.Method, r.URL)
		require.Equal(t, "application/json", r.Header["Accept"])
	}
	// The flow as it runs for a contact that does not exist yet; ids an
	// earlier response would supply are named placeholders.
	require.Equal(t, []line{
		{"GET", base + "/contacts/search?q=crm-0042"},
		{"GET", base + "/contacts/search?q=%2B14155550123"},
		{"GET", base + "/contacts/search?q=jane%40example.com"},
		{"POST", base + "/contacts"},
		{"POST", base + "/conversations"},
		{"POST", base + "/conversations/{conversation_id}/messages"},
	}, got)
	bodyJSON := func(i int) string {
		raw, err := json.Marshal(reqs[i].Body)
		require.NoError(t, err)
		return string(raw)
	}
	require.JSONEq(t, `{"inbox_id":1,"identifier":"crm-0042","phone_number":"+14155550123","email":"jane@example.com","name":"Jane"}`, bodyJSON(3))
	require.JSONEq(t, `{"source_id":"{source_id}","inbox_id":1,"contact_id":"{contact_id}"}`, bodyJSON(4))
	require.JSONEq(t, `{"content":"Your order has shipped.","message_type":"outgoing","echo_id":"run-1/step-1/0","content_attributes":{"in_reply_to":9}}`, bodyJSON(5),
		"the body override applies to the message request only")

	raw, err := json.Marshal(out)
	require.NoError(t, err)
	require.NotContains(t, string(raw), fake.DefaultToken)
	require.Empty(t, b.sandbox.Requests(""), "dry-run sends nothing")
	require.Empty(t, b.fake.Contacts())
}

func TestDryRunSingleActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := b.baseURL + "/api/v1/accounts/1"
	cases := []struct {
		action string
		input  map[string]any
		method string
		url    string
		body   string
	}{
		{"create_contact", map[string]any{"name": "Ada", "phone_number": "+442071838750"}, "POST", base + "/contacts",
			`{"inbox_id":1,"name":"Ada","phone_number":"+442071838750"}`},
		{"create_conversation", map[string]any{"source_id": "s-1", "contact_id": 5}, "POST", base + "/conversations",
			`{"source_id":"s-1","inbox_id":1,"contact_id":5}`},
		{"create_message", map[string]any{"conversation_id": 12, "content": "hi"}, "POST", base + "/conversations/12/messages",
			`{"content":"hi","message_type":"outgoing","echo_id":"run-1/step-1/0"}`},
		{"search_contacts", map[string]any{"q": "Jane Doe", "page": 2}, "GET", base + "/contacts/search?page=2&q=Jane+Doe", ``},
	}
	for _, tc := range cases {
		out, err := b.invoke(t, tc.action, tc.input, dryRun)
		require.NoError(t, err, tc.action)
		reqs := rendered(t, out)
		require.Len(t, reqs, 1, tc.action)
		require.Equal(t, tc.method, reqs[0].Method, tc.action)
		require.Equal(t, tc.url, reqs[0].URL, tc.action)
		require.Equal(t, sdk.Masked, reqs[0].Header["Api_access_token"], tc.action)
		if tc.body == "" {
			require.Nil(t, reqs[0].Body, tc.action)
		} else {
			raw, err := json.Marshal(reqs[0].Body)
			require.NoError(t, err)
			require.JSONEq(t, tc.body, string(raw), tc.action)
		}
	}
	require.Empty(t, b.sandbox.Requests(""), "dry-run sends nothing")
}

// TestSecretsNeverInOutput checks the token and webhook secret appear in no
// output, live or dry-run.
func TestSecretsNeverInOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, dry := range []bool{false, true} {
		out, err := b.invoke(t, "send_message", map[string]any{
			"contact": map[string]any{"identifier": "crm-1"}, "content": "hi",
		}, func(r *sdk.InvokeRequest) { r.DryRun = dry })
		require.NoError(t, err)
		raw, err := json.Marshal(out)
		require.NoError(t, err)
		for _, secret := range []string{fake.DefaultToken, fake.DefaultWebhookSecret} {
			require.False(t, strings.Contains(string(raw), secret), "dry-run %v output shows a secret: %s", dry, raw)
		}
	}
}
