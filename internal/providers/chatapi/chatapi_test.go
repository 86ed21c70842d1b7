package chatapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// The instance config of the tests. The secrets are distinctive so a leak
// shows in any output.
const (
	testInstanceID   = "229607"
	testToken        = "test-token-9f1c2e"
	testUID          = "test-uid-77ab03"
	testWebhookToken = "hook-secret-5d1e48"
	testInstance     = "chatapi"
)

// transport is how a test reaches the provider, transports both ways the
// host does (sdktest.Transports).
type transport = sdktest.Transport

var transports = sdktest.Transports

var grpc = transports["grpc"]

// env is a provider configured against a sandbox that records what it
// receives: api is served under /chatapi.
type env struct {
	sb     *sandbox.Sandbox
	url    string
	client sdk.Client
}

// setup serves api in a sandbox and returns a client of p, configured as
// testInstance with the test credentials pointing at it.
func setup(t *testing.T, serve transport, p *provider, api http.Handler) *env {
	t.Helper()
	sb := sandbox.New()
	sb.Mount("chatapi", "/chatapi", api)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	e := &env{sb: sb, url: srv.URL, client: serve(t, p)}
	e.configure(t, testConfig(srv.URL+"/chatapi"))
	return e
}

func testConfig(baseURL string) map[string]any {
	return map[string]any{
		"instance_id":    testInstanceID,
		"token":          testToken,
		"api_url":        baseURL,
		"uid":            testUID,
		"management_url": baseURL,
		"webhook_token":  testWebhookToken,
	}
}

func (e *env) configure(t *testing.T, cfg map[string]any) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, e.client.Configure(context.Background(), testInstance, raw))
}

// invoke runs action with input on the test instance; mods adjust the
// request (overrides, dry-run).
func (e *env) invoke(t *testing.T, action string, input any, mods ...func(*sdk.InvokeRequest)) (json.RawMessage, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	req := &sdk.InvokeRequest{Instance: testInstance, Action: action, Input: raw, IdempotencyKey: "run-1/step-1/0", Attempt: 1}
	for _, m := range mods {
		m(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.client.Invoke(ctx, req)
}

// requests returns what the sandbox received for the provider label.
func (e *env) requests(provider string) []sandbox.RecordedRequest {
	return e.sb.Requests(provider)
}

// fixtureAPI answers every Chat API method with its fixture response,
// choosing by the last path segment.
func fixtureAPI(t *testing.T) http.Handler {
	t.Helper()
	sent := fixture(t, "sendMessage.response.json")
	responses := map[string][]byte{
		"sendMessage":    sent,
		"sendFile":       sent,
		"status":         []byte(`{"accountStatus": "authenticated"}`),
		"newInstance":    fixture(t, "instances.newInstance.response.json"),
		"listInstances":  fixture(t, "instances.listInstances.response.json"),
		"deleteInstance": fixture(t, "instances.deleteInstance.response.json"),
	}
	return answer(func(r *http.Request) (int, []byte) {
		if body, ok := responses[path.Base(r.URL.Path)]; ok {
			return http.StatusOK, body
		}
		return http.StatusNotFound, []byte(`{"error": "unknown method"}`)
	})
}

// answer is a handler answering every request with the status and JSON
// body f returns.
func answer(f func(r *http.Request) (int, []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body := f(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// errorClass returns err as a classified error, failing the test when it is
// nil.
func errorClass(t *testing.T, err error) *sdk.Error {
	t.Helper()
	require.Error(t, err)
	return sdk.AsError(err)
}

func TestConfigureRequiresCredentialsForSomeAction(t *testing.T) {
	t.Parallel()
	client := sdk.NewServer(New(), nil)
	cases := map[string]struct {
		config map[string]any
		ok     bool
	}{
		"instance credentials":      {map[string]any{"instance_id": "1", "token": "t"}, true},
		"account key only":          {map[string]any{"uid": "u"}, true},
		"instance id without token": {map[string]any{"instance_id": "1", "uid": "u"}, false},
		"token without instance id": {map[string]any{"token": "t"}, false},
		"nothing":                   {map[string]any{}, false},
		"malformed api_url":         {map[string]any{"instance_id": "1", "token": "t", "api_url": "api.chat-api.com"}, false},
		"instance id with a slash":  {map[string]any{"instance_id": "1/../2", "token": "t"}, false},
		"unknown field":             {map[string]any{"instanceId": "1", "token": "t"}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(tc.config)
			require.NoError(t, err)
			err = client.Configure(context.Background(), "i", raw)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, sdk.ClassPermanent, errorClass(t, err).Class)
		})
	}
}

func TestConfigureAppliesDefaultURLs(t *testing.T) {
	t.Parallel()
	client := sdk.NewServer(New(), nil)
	require.NoError(t, client.Configure(context.Background(), "i", json.RawMessage(`{"instance_id": "1", "token": "t0ken-abc", "uid": "uid-abc"}`)))
	for action, want := range map[string]string{
		"status":         DefaultAPIURL + "/instance1/status?token=***",
		"list_instances": DefaultManagementURL + "/listInstances?uid=***",
	} {
		out, err := client.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "i", Action: action, Input: json.RawMessage(`{}`), DryRun: true})
		require.NoError(t, err)
		var rendered struct {
			Requests []sdk.RenderedRequest `json:"requests"`
		}
		require.NoError(t, json.Unmarshal(out, &rendered))
		require.Len(t, rendered.Requests, 1)
		require.Equal(t, want, rendered.Requests[0].URL)
	}
}

// TestInstanceURLIsTheJoinedEndpoint holds a send's URL, the token joined
// to it here, to the URL sdk.HTTP.Do makes of instanceEndpoint's endpoint
// and query (one key, one value: its appendQuery writes what Encode writes).
func TestInstanceURLIsTheJoinedEndpoint(t *testing.T) {
	for _, cfg := range []sdk.Config{
		{"instance_id": "229607", "token": "abc123", "api_url": "https://api.chat-api.com"},
		{"instance_id": "22 96/07", "token": "a&b=c d+é?", "api_url": "https://api.chat-api.com/"},
		{"instance_id": "1", "token": "t", "api_url": "https://proxy.example/?via=x"},
		{"instance_id": "1?x=y&z", "token": "t?", "api_url": "https://api.chat-api.com"},
		{"instance_id": "1", "token": "", "api_url": "https://api.chat-api.com"},
	} {
		call := &sdk.Call{Action: "send_message", Config: cfg}
		endpoint, query, err := instanceEndpoint(call, "sendMessage")
		got, gotErr := instanceURL(call, "sendMessage")
		if (err == nil) != (gotErr == nil) {
			t.Fatalf("config %v: errors %v and %v", cfg, err, gotErr)
		}
		if err != nil {
			continue
		}
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		if want := endpoint + sep + query.Encode(); got != want {
			t.Errorf("config %v: %q, want %q", cfg, got, want)
		}
	}
}
