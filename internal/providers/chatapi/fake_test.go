package chatapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatapi/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

// fakeEnv is a fake served under /chatapi in a sandbox, as `herald sandbox`
// serves it.
type fakeEnv struct {
	fake *fake.Fake
	base string
}

func serveFake(t *testing.T) *fakeEnv {
	t.Helper()
	f := fake.New()
	sb := sandbox.New()
	sb.Mount("chatapi", "/chatapi", f)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &fakeEnv{fake: f, base: srv.URL + "/chatapi"}
}

// do sends a raw request to the fake and returns the status and the decoded
// JSON answer.
func (e *fakeEnv) do(t *testing.T, method, path string, query url.Values, body []byte) (int, any) {
	t.Helper()
	target := e.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var v any
	require.NoError(t, json.Unmarshal(data, &v), "answer is not JSON: %s", data)
	return resp.StatusCode, v
}

// requireShape fails unless got has the shape of the fixture want: the same
// JSON kinds, the same object keys, and array elements shaped like want's
// first element.
func requireShape(t *testing.T, want []byte, got any) {
	t.Helper()
	var w any
	require.NoError(t, json.Unmarshal(want, &w))
	if problem := shapeProblem("$", w, got); problem != "" {
		gotJSON, _ := json.Marshal(got)
		t.Fatalf("answer is not shaped like the fixture: %s\nfixture: %s\nanswer:  %s", problem, want, gotJSON)
	}
}

func shapeProblem(at string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %T", at, got)
		}
		if wk, gk := keys(w), keys(g); strings.Join(wk, ",") != strings.Join(gk, ",") {
			return fmt.Sprintf("%s: want keys %v, got %v", at, wk, gk)
		}
		for k, v := range w {
			if v == nil {
				continue
			}
			if p := shapeProblem(at+"."+k, v, g[k]); p != "" {
				return p
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want an array, got %T", at, got)
		}
		if len(w) > 0 {
			for i, item := range g {
				if p := shapeProblem(fmt.Sprintf("%s[%d]", at, i), w[0], item); p != "" {
					return p
				}
			}
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return fmt.Sprintf("%s: want a %T, got %T", at, want, got)
		}
	}
	return ""
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestFakeAnswersTheFixtureRequests(t *testing.T) {
	t.Parallel()
	e := serveFake(t)
	token := url.Values{"token": {fake.DefaultToken}}
	var ids []string
	for _, tc := range []struct{ path, fixture, chatID string }{
		{"/instance229607/sendMessage", "sendMessage.request.json", "17472822486@c.us"},
		{"/instance229607/sendMessage", "sendMessage.request.chatId.json", "17680561234-1479621234@g.us"},
		{"/instance229607/sendFile", "sendFile.request.json", "17472822486@c.us"},
	} {
		status, got := e.do(t, http.MethodPost, tc.path, token, fixture(t, tc.fixture))
		require.Equal(t, http.StatusOK, status, "%s: %v", tc.fixture, got)
		requireShape(t, fixture(t, "sendMessage.response.json"), got)
		answer := got.(map[string]any)
		require.Equal(t, true, answer["sent"])
		require.Equal(t, "Sent to "+tc.chatID, answer["message"])
		id := answer["id"].(string)
		require.True(t, strings.HasPrefix(id, "true_"+tc.chatID+"_"), id)
		ids = append(ids, id[len(id)-20:])
	}
	require.True(t, sort.StringsAreSorted(ids) && ids[0] != ids[1] && ids[1] != ids[2], "message ids increase: %v", ids)

	sent := e.fake.Sent()
	require.Len(t, sent, 3)
	var want map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "sendFile.request.json"), &want))
	require.Equal(t, "sendFile", sent[2].Method)
	require.Equal(t, want, sent[2].Body)
}

func TestFakeManagesInstances(t *testing.T) {
	t.Parallel()
	e := serveFake(t)
	uid := url.Values{"uid": {fake.DefaultUID}}

	status, created := e.do(t, http.MethodGet, "/newInstance", url.Values{"uid": {fake.DefaultUID}, "type": {"whatsapp"}}, nil)
	require.Equal(t, http.StatusOK, status)
	requireShape(t, fixture(t, "instances.newInstance.response.json"), created)
	instance := created.(map[string]any)["result"].(map[string]any)["instance"].(map[string]any)
	require.Equal(t, "229608", instance["id"], "new instance ids follow the account's first one")
	require.Equal(t, e.base+"/instance229608/", instance["apiUrl"], "apiUrl includes the sandbox prefix")
	newToken := instance["token"].(string)

	status, list := e.do(t, http.MethodGet, "/listInstances", uid, nil)
	require.Equal(t, http.StatusOK, status)
	requireShape(t, fixture(t, "instances.listInstances.response.json"), list)
	require.Len(t, list.(map[string]any)["result"], 2)

	// A new instance waits for its phone: it shows a QR code and cannot send.
	status, st := e.do(t, http.MethodGet, "/instance229608/status", url.Values{"token": {newToken}}, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, fake.StatusGotQRCode, st.(map[string]any)["accountStatus"])
	require.True(t, strings.HasPrefix(st.(map[string]any)["qrCode"].(string), "data:image/png;base64,"))
	status, refused := e.do(t, http.MethodPost, "/instance229608/sendMessage", url.Values{"token": {newToken}}, []byte(`{"phone": "17472822486", "body": "hi"}`))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, false, refused.(map[string]any)["sent"])

	status, deleted := e.do(t, http.MethodGet, "/deleteInstance", url.Values{"uid": {fake.DefaultUID}, "instanceId": {"229608"}}, nil)
	require.Equal(t, http.StatusOK, status)
	var want any
	require.NoError(t, json.Unmarshal(fixture(t, "instances.deleteInstance.response.json"), &want))
	require.Equal(t, want, deleted)

	_, list = e.do(t, http.MethodGet, "/listInstances", uid, nil)
	require.Len(t, list.(map[string]any)["result"], 1)
	status, _ = e.do(t, http.MethodGet, "/instance229608/status", url.Values{"token": {newToken}}, nil)
	require.Equal(t, http.StatusNotFound, status, "a deleted instance is gone")
}

func TestFakeRejectsBadAuthAndBadRequests(t *testing.T) {
	t.Parallel()
	e := serveFake(t)
	good := fixture(t, "sendMessage.request.json")
	token := url.Values{"token": {fake.DefaultToken}}
	cases := []struct {
		name         string
		method, path string
		query        url.Values
		body         string
		status       int
	}{
		{"wrong token", http.MethodPost, "/instance229607/sendMessage", url.Values{"token": {"nope"}}, string(good), http.StatusUnauthorized},
		{"no token", http.MethodPost, "/instance229607/sendMessage", nil, string(good), http.StatusUnauthorized},
		{"another instance's token", http.MethodGet, "/instance229607/status", url.Values{"token": {fake.DefaultUID}}, "", http.StatusUnauthorized},
		{"unknown instance", http.MethodGet, "/instance1/status", token, "", http.StatusNotFound},
		{"wrong uid", http.MethodGet, "/listInstances", url.Values{"uid": {"nope"}}, "", http.StatusUnauthorized},
		{"no uid", http.MethodGet, "/newInstance", url.Values{"type": {"whatsapp"}}, "", http.StatusUnauthorized},
		{"token instead of uid", http.MethodGet, "/listInstances", token, "", http.StatusUnauthorized},
		{"no recipient", http.MethodPost, "/instance229607/sendMessage", token, `{"body": "hi"}`, http.StatusBadRequest},
		{"malformed phone", http.MethodPost, "/instance229607/sendMessage", token, `{"phone": "+1 747", "body": "hi"}`, http.StatusBadRequest},
		{"malformed chat id", http.MethodPost, "/instance229607/sendMessage", token, `{"chatId": "17472822486", "body": "hi"}`, http.StatusBadRequest},
		{"no body", http.MethodPost, "/instance229607/sendMessage", token, `{"phone": "17472822486"}`, http.StatusBadRequest},
		{"malformed mention", http.MethodPost, "/instance229607/sendMessage", token, `{"phone": "17472822486", "body": "hi", "mentionedPhones": "1"}`, http.StatusBadRequest},
		{"not JSON", http.MethodPost, "/instance229607/sendMessage", token, `phone=17472822486&body=hi`, http.StatusBadRequest},
		{"file without a name", http.MethodPost, "/instance229607/sendFile", token, `{"phone": "17472822486", "body": "https://example.com/a.jpg"}`, http.StatusBadRequest},
		{"file that is no URL", http.MethodPost, "/instance229607/sendFile", token, `{"phone": "17472822486", "body": "a.jpg", "filename": "a.jpg"}`, http.StatusBadRequest},
		{"instance without type", http.MethodGet, "/newInstance", url.Values{"uid": {fake.DefaultUID}}, "", http.StatusBadRequest},
		{"delete unknown instance", http.MethodGet, "/deleteInstance", url.Values{"uid": {fake.DefaultUID}, "instanceId": {"1"}}, "", http.StatusNotFound},
		{"unknown method", http.MethodPost, "/instance229607/sendSticker", token, `{}`, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := e.do(t, tc.method, tc.path, tc.query, []byte(tc.body))
			require.Equal(t, tc.status, status, "%v", got)
			requireShape(t, fixture(t, "error.response.json"), got)
		})
	}
	require.Empty(t, e.fake.Sent(), "nothing was sent by refused requests")
}

// TestProviderAgainstFake runs the provider against its fake as `herald
// sandbox` does, with the config the fake package prints.
func TestProviderAgainstFake(t *testing.T) {
	t.Parallel()
	e := serveFake(t)
	client := grpc(t, New())
	raw, err := json.Marshal(fake.ProviderConfig(e.base))
	require.NoError(t, err)
	require.NoError(t, client.Configure(t.Context(), "sandbox", raw))
	invoke := func(action string, input map[string]any, mods ...func(*sdk.InvokeRequest)) (map[string]any, error) {
		in, err := json.Marshal(input)
		require.NoError(t, err)
		req := &sdk.InvokeRequest{Instance: "sandbox", Action: action, Input: in, Attempt: 1}
		for _, m := range mods {
			m(req)
		}
		out, err := client.Invoke(t.Context(), req)
		if err != nil {
			return nil, err
		}
		var v map[string]any
		require.NoError(t, json.Unmarshal(out, &v))
		return v, nil
	}

	out, err := invoke("send_message", map[string]any{"phone": "17472822486", "body": "Your order #1042 has shipped"})
	require.NoError(t, err)
	require.Equal(t, true, out["sent"])
	out, err = invoke("status", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"account_status": fake.StatusAuthenticated}, out)

	created, err := invoke("create_instance", map[string]any{"type": "whatsapp"})
	require.NoError(t, err)
	require.Equal(t, "created", created["status"])
	newID := created["instance_id"].(string)
	list, err := invoke("list_instances", map[string]any{})
	require.NoError(t, err)
	require.Len(t, list["instances"], 2)

	// An instance that waits for its phone refuses to send: Chat API says so
	// in a 200 answer, which is a permanent error.
	e.fake.AddInstance("400001", "waiting-token-1")
	require.True(t, e.fake.SetAccountStatus("400001", fake.StatusGotQRCode))
	waiting := func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"instance_id": "400001", "token": "waiting-token-1"}`)
	}
	out, err = invoke("status", map[string]any{}, waiting)
	require.NoError(t, err)
	require.Equal(t, fake.StatusGotQRCode, out["account_status"])
	require.NotEmpty(t, out["qr_code"])
	_, err = invoke("send_message", map[string]any{"phone": "17472822486", "body": "hi"}, waiting)
	got := errorClass(t, err)
	require.Equal(t, sdk.ClassPermanent, got.Class)
	require.Contains(t, got.Message, "not authorized")

	_, err = invoke("send_message", map[string]any{"phone": "17472822486", "body": "hi"}, func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"token": "stolen-token-0"}`)
	})
	got = errorClass(t, err)
	require.Equal(t, sdk.ClassPermanent, got.Class)
	require.Equal(t, http.StatusUnauthorized, got.StatusCode)

	out, err = invoke("delete_instance", map[string]any{"instance_id": newID})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"instance_id": newID, "status": "deleted"}, out)
	list, err = invoke("list_instances", map[string]any{})
	require.NoError(t, err)
	require.Len(t, list["instances"], 2, "the created instance is gone, the added one is listed")
	require.Len(t, e.fake.Sent(), 1, "only the authenticated instance sent")
}
