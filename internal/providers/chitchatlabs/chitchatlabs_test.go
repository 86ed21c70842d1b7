package chitchatlabs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// testAPIKey is distinctive so a leak shows in any output.
const (
	testAPIKey   = "ccl-test-key-4b7e0d"
	testInstance = "whatsapp_cc"
)

// transport is how a test reaches the provider, transports both ways the
// host does (sdktest.Transports).
type transport = sdktest.Transport

var transports = sdktest.Transports

var grpc = transports["grpc"]

// env is a provider configured against a sandbox that records what it
// receives: api is served under /ccl.
type env struct {
	sb     *sandbox.Sandbox
	url    string
	client sdk.Client
}

func setup(t *testing.T, serve transport, p *provider, api http.Handler) *env {
	t.Helper()
	sb := sandbox.New()
	sb.Mount("chitchatlabs", "/ccl", api)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	e := &env{sb: sb, url: srv.URL, client: serve(t, p)}
	raw, err := json.Marshal(map[string]any{"api_key": testAPIKey, "base_url": srv.URL + "/ccl"})
	require.NoError(t, err)
	require.NoError(t, e.client.Configure(context.Background(), testInstance, raw))
	return e
}

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

// answer is a handler answering every request with status, content type
// and body.
func answer(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// accepted is an API that accepts every request.
var accepted = answer(http.StatusOK, "application/json", `{"status": "accepted", "id": "single_000001"}`)

// inputFromBody turns a request-body fixture into the action input that
// must produce it.
func inputFromBody(t *testing.T, name string) map[string]any {
	t.Helper()
	var input map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, name), &input))
	if spec, ok := input["searchSpec"]; ok {
		delete(input, "searchSpec")
		input["search_spec"] = spec
	}
	return input
}

func TestRequestsMatchFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct{ action, path, fixture string }{
		{"send_single", "/chat-service/apis/message/single", "message_single.request.json"},
		{"send_blast", "/chat-service/apis/message/blast", "message_blast.request.json"},
	}
	for transportName, serve := range transports {
		for _, tc := range cases {
			t.Run(transportName+"/"+tc.action, func(t *testing.T) {
				t.Parallel()
				e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
				out, err := e.invoke(t, tc.action, inputFromBody(t, tc.fixture))
				require.NoError(t, err)
				require.JSONEq(t, `{"status_code": 200, "response": {"status": "accepted", "id": "single_000001"}}`, string(out))

				reqs := e.sb.Requests("chitchatlabs")
				require.Len(t, reqs, 1)
				got := reqs[0]
				require.Equal(t, http.MethodPost, got.Method)
				require.Equal(t, tc.path, got.Path)
				require.Empty(t, got.Query)
				header := http.Header(got.Header)
				require.Equal(t, testAPIKey, header.Get(APIKeyHeader))
				require.Equal(t, "application/json", header.Get("Content-Type"))
				require.True(t, strings.HasPrefix(header.Get("User-Agent"), "herald-provider-chitchatlabs/"), header.Get("User-Agent"))
				require.JSONEq(t, string(fixture(t, tc.fixture)), string(got.Body))
			})
		}
	}
}

func TestBlastPlaceholdersPassThroughUntouched(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
	params := []any{"{{name}}", "{{ name }}", "<b>&amp;</b>", "{{custom.field}}"}
	_, err := e.invoke(t, "send_blast", map[string]any{
		"search_spec": map[string]any{"tags": []any{"vip"}},
		"fb_template": "t", "language": "en", "params": params,
	})
	require.NoError(t, err)
	var body struct {
		Params []any `json:"params"`
	}
	require.NoError(t, json.Unmarshal(e.sb.Requests("")[0].Body, &body))
	require.Equal(t, params, body.Params)
}

func TestOptionalFieldsAreLeftOutWhenAbsent(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
	_, err := e.invoke(t, "send_single", map[string]any{"to": map[string]any{"mobile": "919739978284"}, "fb_template": "t", "language": "en"})
	require.NoError(t, err)
	_, err = e.invoke(t, "send_single", map[string]any{"to": map[string]any{"mobile": "919739978284"}, "fb_template": "t", "language": "en", "params": []any{}})
	require.NoError(t, err)
	reqs := e.sb.Requests("")
	require.JSONEq(t, `{"to": {"mobile": "919739978284"}, "fb_template": "t", "language": "en"}`, string(reqs[0].Body))
	require.JSONEq(t, `{"to": {"mobile": "919739978284"}, "fb_template": "t", "language": "en", "params": []}`, string(reqs[1].Body),
		"an explicitly empty params list is sent as given")
}

func TestOutputCarriesAnyTwoHundredAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		api    http.Handler
		output string
	}{
		{"JSON", answer(http.StatusOK, "application/json", `{"messageId": "wamid.1", "count": 3}`), `{"status_code": 200, "response": {"messageId": "wamid.1", "count": 3}}`},
		{"202 with text", answer(http.StatusAccepted, "text/plain", "Message queued"), `{"status_code": 202, "response": "Message queued"}`},
		{"empty", answer(http.StatusNoContent, "text/plain", ""), `{"status_code": 204, "response": ""}`},
		{"a JSON string", answer(http.StatusOK, "application/json", `"ok"`), `{"status_code": 200, "response": "ok"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), tc.api)
			out, err := e.invoke(t, "send_single", inputFromBody(t, "message_single.request.json"))
			require.NoError(t, err)
			require.JSONEq(t, tc.output, string(out))
		})
	}
}

func TestOverridesApplyToOneCallOnly(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
	e.sb.Mount("other-tenant", "/other", accepted)
	input := inputFromBody(t, "message_single.request.json")

	_, err := e.invoke(t, "send_single", input, func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"api_key": "other-tenant-key-8e2f", "base_url": "` + e.url + `/other"}`)
		r.BodyOverride = json.RawMessage(`{"to": {"name": "P."}, "buttons": ["{{video_link}}"]}`)
	})
	require.NoError(t, err)
	_, err = e.invoke(t, "send_single", input)
	require.NoError(t, err)

	other := e.sb.Requests("other-tenant")
	require.Len(t, other, 1)
	require.Equal(t, "other-tenant-key-8e2f", http.Header(other[0].Header).Get(APIKeyHeader))
	var body map[string]any
	require.NoError(t, json.Unmarshal(other[0].Body, &body))
	require.Equal(t, map[string]any{"mobile": "919739978284", "name": "P."}, body["to"], "the override merges into to")
	require.Equal(t, []any{"{{video_link}}"}, body["buttons"])

	plain := e.sb.Requests("chitchatlabs")
	require.Len(t, plain, 1)
	require.Equal(t, testAPIKey, http.Header(plain[0].Header).Get(APIKeyHeader))
	require.JSONEq(t, string(fixture(t, "message_single.request.json")), string(plain[0].Body))
}

func TestDryRunMasksTheAPIKeyAndSendsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
	out, err := e.invoke(t, "send_blast", inputFromBody(t, "message_blast.request.json"), func(r *sdk.InvokeRequest) { r.DryRun = true })
	require.NoError(t, err)
	var rendered struct {
		DryRun   bool                  `json:"dry_run"`
		Requests []sdk.RenderedRequest `json:"requests"`
	}
	require.NoError(t, json.Unmarshal(out, &rendered))
	require.True(t, rendered.DryRun)
	require.Len(t, rendered.Requests, 1)
	r := rendered.Requests[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, e.url+"/ccl/chat-service/apis/message/blast", r.URL)
	require.Equal(t, sdk.Masked, r.Header[http.CanonicalHeaderKey(APIKeyHeader)])
	b, err := json.Marshal(r.Body)
	require.NoError(t, err)
	require.JSONEq(t, string(fixture(t, "message_blast.request.json")), string(b))
	require.NotContains(t, string(out), testAPIKey)
	require.Empty(t, e.sb.Requests(""))
}

func TestErrorClassesSurviveTheGRPCTransport(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fault      sandbox.Fault
		timeout    time.Duration
		want       sdk.ErrorClass
		status     int
		retryAfter time.Duration
		message    string
	}{
		{"429 with Retry-After", sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3}, 0, sdk.ClassRateLimited, http.StatusTooManyRequests, 3 * time.Second, ""},
		{"502", sandbox.Fault{Status: http.StatusBadGateway}, 0, sdk.ClassRetryable, http.StatusBadGateway, 0, ""},
		{"401", sandbox.Fault{Status: http.StatusUnauthorized, Body: `{"error": "invalid api key"}`}, 0, sdk.ClassPermanent, http.StatusUnauthorized, 0, "invalid api key"},
		{"400 with a text body", sandbox.Fault{Status: http.StatusBadRequest, Body: "template habit_run_confirmation_message not approved"}, 0, sdk.ClassPermanent, http.StatusBadRequest, 0, "template habit_run_confirmation_message not approved"},
		{"timeout after the request was written", sandbox.Fault{LatencyMS: 60_000}, 150 * time.Millisecond, sdk.ClassInDoubt, 0, 0, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = requestTimeout
			}
			e := setup(t, grpc, newProvider(sdk.NewHTTP(timeout)), accepted)
			e.sb.AddFault(tc.fault)
			_, err := e.invoke(t, "send_single", inputFromBody(t, "message_single.request.json"))
			require.Error(t, err)
			got := sdk.AsError(err)
			require.Equal(t, tc.want, got.Class, "error: %v", got)
			require.Equal(t, tc.status, got.StatusCode, "error: %v", got)
			require.Equal(t, tc.retryAfter, got.RetryAfter)
			require.Contains(t, got.Message, tc.message)
			require.NotContains(t, got.Message, testAPIKey)
		})
	}
}

func TestInvalidInputIsPermanentAndNamesTheField(t *testing.T) {
	t.Parallel()
	single := func(mod func(in map[string]any)) map[string]any {
		in := map[string]any{"to": map[string]any{"mobile": "919739978284"}, "fb_template": "t", "language": "en"}
		mod(in)
		return in
	}
	blast := func(mod func(in map[string]any)) map[string]any {
		in := map[string]any{"search_spec": map[string]any{"name": "Partha"}, "fb_template": "t", "language": "en"}
		mod(in)
		return in
	}
	cases := []struct {
		name, action string
		input        map[string]any
		field        string
	}{
		{"no recipient", "send_single", single(func(in map[string]any) { delete(in, "to") }), "to"},
		{"no mobile", "send_single", single(func(in map[string]any) { in["to"] = map[string]any{"name": "Partha"} }), "to.mobile"},
		{"mobile with a plus", "send_single", single(func(in map[string]any) { in["to"] = map[string]any{"mobile": "+919739978284"} }), "to.mobile"},
		{"no template", "send_single", single(func(in map[string]any) { delete(in, "fb_template") }), "fb_template"},
		{"no language", "send_single", single(func(in map[string]any) { delete(in, "language") }), "language"},
		{"number as param", "send_single", single(func(in map[string]any) { in["params"] = []any{"a", 2} }), "params[1]"},
		{"audio file", "send_single", single(func(in map[string]any) { in["file"] = map[string]any{"type": "audio", "link": "https://x/a.mp3"} }), "file.type"},
		{"file without link", "send_single", single(func(in map[string]any) { in["file"] = map[string]any{"type": "image"} }), "file.link"},
		{"unknown file field", "send_single", single(func(in map[string]any) {
			in["file"] = map[string]any{"type": "image", "link": "https://x/a.png", "url": "x"}
		}), "file.url"},
		{"blast searchSpec spelling", "send_blast", blast(func(in map[string]any) { in["searchSpec"] = in["search_spec"]; delete(in, "search_spec") }), "search_spec"},
		{"empty search", "send_blast", blast(func(in map[string]any) { in["search_spec"] = map[string]any{} }), "search_spec"},
		{"search as text", "send_blast", blast(func(in map[string]any) { in["search_spec"] = "name=Partha" }), "search_spec"},
	}
	for transportName, serve := range transports {
		for _, tc := range cases {
			t.Run(transportName+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), accepted)
				_, err := e.invoke(t, tc.action, tc.input)
				require.Error(t, err)
				got := sdk.AsError(err)
				require.Equal(t, sdk.ClassPermanent, got.Class, "error: %v", got)
				require.Equal(t, tc.field, got.Field, "error: %v", got)
				require.Empty(t, e.sb.Requests(""), "invalid input must fail before anything is sent")
			})
		}
	}
}

func TestConfigRequiresAnAPIKey(t *testing.T) {
	t.Parallel()
	client := sdk.NewServer(New(), nil)
	err := client.Configure(context.Background(), "i", json.RawMessage(`{"base_url": "https://app.chitchatlabs.com"}`))
	require.Error(t, err)
	require.Equal(t, "api_key", sdk.AsError(err).Field)
	err = client.Configure(context.Background(), "i", json.RawMessage(`{"api_key": "k", "base_url": "app.chitchatlabs.com"}`))
	require.Error(t, err)
	require.Equal(t, "base_url", sdk.AsError(err).Field)
}

// ChitChatLabs has no lookup: no action declares a reconcile handler, so the
// host stops an in-doubt send for an operator, and a reconcile request is
// refused.
func TestNoActionReconciles(t *testing.T) {
	t.Parallel()
	srv := sdk.NewServer(New(), nil)
	spec, err := srv.Describe(context.Background())
	require.NoError(t, err)
	for _, a := range spec.Actions {
		require.False(t, a.CanReconcile(), a.Name)
	}
	require.NoError(t, srv.Configure(context.Background(), "i", json.RawMessage(`{"api_key": "k"}`)))
	_, err = srv.Reconcile(context.Background(), &sdk.ReconcileRequest{InvokeRequest: sdk.InvokeRequest{
		Instance: "i", Action: "send_single", Input: json.RawMessage(`{"to": {"mobile": "919739978284"}, "fb_template": "t", "language": "en"}`),
	}})
	require.ErrorIs(t, err, sdk.ErrNoReconcile)
}
