package chatapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// inputFromBody turns a request-body fixture into the action input that
// must produce it, so the fixture alone defines both sides of the contract.
func inputFromBody(t *testing.T, name string) map[string]any {
	t.Helper()
	inputName := map[string]string{
		"phone":           "phone",
		"chatId":          "chat_id",
		"body":            "body",
		"quotedMsgId":     "quoted_msg_id",
		"mentionedPhones": "mentioned_phones",
		"filename":        "filename",
		"caption":         "caption",
	}
	var body map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, name), &body))
	input := map[string]any{}
	for k, v := range body {
		in, ok := inputName[k]
		require.True(t, ok, "fixture %s has field %q, which no input maps to", name, k)
		input[in] = v
	}
	return input
}

func TestRequestsMatchFixtures(t *testing.T) {
	t.Parallel()
	instanceQuery := url.Values{"token": {testToken}}
	cases := []struct {
		name   string
		action string
		input  map[string]any
		method string
		path   string
		query  url.Values
		// body is the fixture the request body must equal; "" for none.
		body string
		// output is the JSON the action must return.
		output string
	}{
		{
			name: "send_message to a phone", action: "send_message", input: inputFromBody(t, "sendMessage.request.json"),
			method: http.MethodPost, path: "/instance229607/sendMessage", query: instanceQuery,
			body: "sendMessage.request.json", output: string(fixture(t, "sendMessage.response.json")),
		},
		{
			name: "send_message to a group", action: "send_message", input: inputFromBody(t, "sendMessage.request.chatId.json"),
			method: http.MethodPost, path: "/instance229607/sendMessage", query: instanceQuery,
			body: "sendMessage.request.chatId.json", output: string(fixture(t, "sendMessage.response.json")),
		},
		{
			name: "send_file", action: "send_file", input: inputFromBody(t, "sendFile.request.json"),
			method: http.MethodPost, path: "/instance229607/sendFile", query: instanceQuery,
			body: "sendFile.request.json", output: string(fixture(t, "sendMessage.response.json")),
		},
		{
			name: "status", action: "status", input: map[string]any{},
			method: http.MethodGet, path: "/instance229607/status", query: instanceQuery,
			output: `{"account_status": "authenticated"}`,
		},
		{
			name: "create_instance", action: "create_instance", input: map[string]any{"type": "whatsapp"},
			method: http.MethodGet, path: "/newInstance", query: url.Values{"uid": {testUID}, "type": {"whatsapp"}},
			output: `{"status": "created", "instance_id": "229607", "api_url": "https://api.chat-api.com/instance229607/"}`,
		},
		{
			name: "list_instances", action: "list_instances", input: map[string]any{},
			method: http.MethodGet, path: "/listInstances", query: url.Values{"uid": {testUID}},
			output: `{"instances": [{"instance_id": "229607", "name": "", "api_url": "https://api.chat-api.com/instance229607/",
				"type": "whatsapp", "stopped": false, "payments_count": 3, "paid_till": 1640995200}]}`,
		},
		{
			name: "delete_instance", action: "delete_instance", input: map[string]any{"instance_id": "229607"},
			method: http.MethodGet, path: "/deleteInstance", query: url.Values{"uid": {testUID}, "instanceId": {"229607"}},
			output: `{"instance_id": "229607", "status": "deleted"}`,
		},
	}
	for transportName, serve := range transports {
		for _, tc := range cases {
			t.Run(transportName+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
				out, err := e.invoke(t, tc.action, tc.input)
				require.NoError(t, err)
				require.JSONEq(t, tc.output, string(out))

				reqs := e.requests("chatapi")
				require.Len(t, reqs, 1)
				got := reqs[0]
				require.Equal(t, tc.method, got.Method)
				require.Equal(t, tc.path, got.Path)
				require.Equal(t, tc.query, url.Values(got.Query))
				header := http.Header(got.Header)
				require.Equal(t, "application/json", header.Get("Accept"))
				require.True(t, strings.HasPrefix(header.Get("User-Agent"), "herald-provider-chatapi/"), header.Get("User-Agent"))
				if tc.body == "" {
					require.Empty(t, got.Body)
					return
				}
				require.Equal(t, "application/json", header.Get("Content-Type"))
				require.JSONEq(t, string(fixture(t, tc.body)), string(got.Body))
			})
		}
	}
}

func TestStatusCarriesTheQRCodeWhileWaitingForThePhone(t *testing.T) {
	t.Parallel()
	api := answer(func(*http.Request) (int, []byte) {
		return http.StatusOK, []byte(`{"accountStatus": "got qr code", "qrCode": "data:image/png;base64,iVBORw0KGgo="}`)
	})
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), api)
	out, err := e.invoke(t, "status", map[string]any{})
	require.NoError(t, err)
	require.JSONEq(t, `{"account_status": "got qr code", "qr_code": "data:image/png;base64,iVBORw0KGgo="}`, string(out))
}

func TestOverridesApplyToOneCallOnly(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	// A second account, reachable only through the override's api_url.
	e.sb.Mount("runtime", "/runtime", fixtureAPI(t))
	input := map[string]any{"phone": "17472822486", "body": "Your order #1042 has shipped"}

	_, err := e.invoke(t, "send_message", input, func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"instance_id": "67890", "token": "runtime-token-31ad", "api_url": "` + e.url + `/runtime"}`)
		r.BodyOverride = json.RawMessage(`{"quotedMsgId": "false_1@c.us_X", "body": "Your order #1042 has shipped (override)"}`)
	})
	require.NoError(t, err)
	_, err = e.invoke(t, "send_message", input)
	require.NoError(t, err)

	overridden := e.requests("runtime")
	require.Len(t, overridden, 1)
	require.Equal(t, "/instance67890/sendMessage", overridden[0].Path)
	require.Equal(t, url.Values{"token": {"runtime-token-31ad"}}, url.Values(overridden[0].Query))
	require.JSONEq(t, `{"phone": "17472822486", "body": "Your order #1042 has shipped (override)", "quotedMsgId": "false_1@c.us_X"}`, string(overridden[0].Body))

	plain := e.requests("chatapi")
	require.Len(t, plain, 1, "the overridden call went to the runtime account only")
	require.Equal(t, "/instance229607/sendMessage", plain[0].Path)
	require.Equal(t, url.Values{"token": {testToken}}, url.Values(plain[0].Query))
	require.JSONEq(t, `{"phone": "17472822486", "body": "Your order #1042 has shipped"}`, string(plain[0].Body))
}

func TestDryRunRendersTheRequestWithSecretsMasked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		action string
		input  map[string]any
		want   string
	}{
		{
			action: "send_message",
			input:  map[string]any{"chat_id": "17472822486@c.us", "body": "Hello"},
			want: `{"dry_run": true, "requests": [{"method": "POST", "url": "URL/instance229607/sendMessage?token=***",
				"headers": {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "herald-provider-chatapi/` + Version + `"},
				"body": {"chatId": "17472822486@c.us", "body": "Hello", "quotedMsgId": "false_1@c.us_X"}}]}`,
		},
		{
			action: "delete_instance",
			input:  map[string]any{"instance_id": "229607"},
			want: `{"dry_run": true, "requests": [{"method": "GET", "url": "URL/deleteInstance?instanceId=229607&uid=***",
				"headers": {"Accept": "application/json", "User-Agent": "herald-provider-chatapi/` + Version + `"}}]}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
			out, err := e.invoke(t, tc.action, tc.input, func(r *sdk.InvokeRequest) {
				r.DryRun = true
				r.BodyOverride = json.RawMessage(`{"quotedMsgId": "false_1@c.us_X"}`)
			})
			require.NoError(t, err)
			require.JSONEq(t, strings.ReplaceAll(tc.want, "URL", e.url+"/chatapi"), string(out))
			for _, secret := range []string{testToken, testUID, testWebhookToken} {
				require.NotContains(t, string(out), secret)
			}
			require.Empty(t, e.requests(""), "a dry run sends nothing")
		})
	}
}
