package chatapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/sdk"
)

func TestErrorClassesSurviveTheGRPCTransport(t *testing.T) {
	t.Parallel()
	errorText := func(t *testing.T) string {
		var v struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(fixture(t, "error.response.json"), &v))
		return v.Error
	}
	cases := []struct {
		name string
		// fault, when set, answers instead of the fixture API.
		fault *sandbox.Fault
		// api, when set, replaces the fixture API.
		api     func(t *testing.T) http.Handler
		timeout time.Duration
		want    sdk.ErrorClass
		status  int
		// message returns text the error message must contain.
		message    func(t *testing.T) string
		retryAfter time.Duration
	}{
		{
			name:  "429 with Retry-After is rate limited",
			fault: &sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7},
			want:  sdk.ClassRateLimited, status: http.StatusTooManyRequests, retryAfter: 7 * time.Second,
		},
		{
			name:  "500 is retryable",
			fault: &sandbox.Fault{Status: http.StatusInternalServerError},
			want:  sdk.ClassRetryable, status: http.StatusInternalServerError,
		},
		{
			name: "401 with Chat API's error body is permanent with its message",
			api: func(t *testing.T) http.Handler {
				return statusAPI(http.StatusUnauthorized, fixture(t, "error.response.json"))
			},
			want:    sdk.ClassPermanent,
			status:  http.StatusUnauthorized,
			message: errorText,
		},
		{
			name: "200 with sent false is permanent with Chat API's reason",
			api: func(*testing.T) http.Handler {
				return statusAPI(http.StatusOK, []byte(`{"sent": false, "message": "Phone 17472822486 is not registered in WhatsApp"}`))
			},
			want: sdk.ClassPermanent, status: http.StatusOK,
			message: func(*testing.T) string { return "Phone 17472822486 is not registered in WhatsApp" },
		},
		{
			name: "200 with an error body is permanent with Chat API's message",
			api: func(t *testing.T) http.Handler {
				return statusAPI(http.StatusOK, fixture(t, "error.response.json"))
			},
			want: sdk.ClassPermanent, status: http.StatusOK, message: errorText,
		},
		{
			name: "200 that is not JSON is permanent",
			api: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>maintenance</html>")) })
			},
			want: sdk.ClassPermanent, status: http.StatusOK,
		},
		{
			name:    "a timeout after the request was written is in doubt",
			fault:   &sandbox.Fault{LatencyMS: 60_000},
			timeout: 150 * time.Millisecond,
			want:    sdk.ClassInDoubt,
			message: func(*testing.T) string { return "timeout" },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := fixtureAPI(t)
			if tc.api != nil {
				api = tc.api(t)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = requestTimeout
			}
			e := setup(t, grpc, newProvider(sdk.NewHTTP(timeout)), api)
			if tc.fault != nil {
				e.sb.AddFault(*tc.fault)
			}
			_, err := e.invoke(t, "send_message", map[string]any{"phone": "17472822486", "body": "hi"})
			got := errorClass(t, err)
			require.Equal(t, tc.want, got.Class, "error: %v", got)
			require.Equal(t, tc.status, got.StatusCode, "error: %v", got)
			require.Equal(t, tc.retryAfter, got.RetryAfter)
			if tc.message != nil {
				require.Contains(t, got.Message, tc.message(t))
			}
			require.NotContains(t, got.Message, testToken)
		})
	}
}

// statusAPI answers every request with status and body.
func statusAPI(status int, body []byte) http.Handler {
	return answer(func(*http.Request) (int, []byte) { return status, body })
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	closedURL := srv.URL
	srv.Close()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	_, err := e.invoke(t, "send_message", map[string]any{"phone": "17472822486", "body": "hi"}, func(r *sdk.InvokeRequest) {
		r.ConfigOverride = json.RawMessage(`{"api_url": "` + closedURL + `"}`)
	})
	got := errorClass(t, err)
	require.Equal(t, sdk.ClassRetryable, got.Class, "error: %v", got)
	require.NotContains(t, got.Message, testToken)
}

func TestManagementFailuresInSuccessfulAnswersArePermanent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, action string
		input        map[string]any
		body         string
		message      string
	}{
		{"newInstance result status error", "create_instance", map[string]any{"type": "whatsapp"},
			`{"result": {"status": "error", "message": "limit of instances reached"}}`, "limit of instances reached"},
		{"newInstance error member", "create_instance", map[string]any{"type": "whatsapp"},
			`{"error": "wrong uid"}`, "wrong uid"},
		{"deleteInstance result error", "delete_instance", map[string]any{"instance_id": "1"},
			`{"result": "error"}`, "could not delete instance 1"},
		{"deleteInstance nested error", "delete_instance", map[string]any{"instance_id": "1"},
			`{"result": {"error": "instance 1 not found"}}`, "instance 1 not found"},
		{"listInstances without result", "list_instances", map[string]any{},
			`{}`, "without a result"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), statusAPI(http.StatusOK, []byte(tc.body)))
			_, err := e.invoke(t, tc.action, tc.input)
			got := errorClass(t, err)
			require.Equal(t, sdk.ClassPermanent, got.Class, "error: %v", got)
			require.Contains(t, got.Message, tc.message)
		})
	}
}

func TestInvalidInputIsPermanentAndNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, action string
		input        map[string]any
		field        string
		message      string
	}{
		{"no recipient", "send_message", map[string]any{"body": "hi"}, "phone", "exactly one of phone, chat_id"},
		{"two recipients", "send_message", map[string]any{"phone": "17472822486", "chat_id": "17472822486@c.us", "body": "hi"}, "phone", "phone and chat_id are both set"},
		{"phone with a plus", "send_message", map[string]any{"phone": "+17472822486", "body": "hi"}, "phone", "does not match"},
		{"phone too short", "send_message", map[string]any{"phone": "12345", "body": "hi"}, "phone", "does not match"},
		{"chat id without a domain", "send_message", map[string]any{"chat_id": "17472822486", "body": "hi"}, "chat_id", "does not match"},
		{"missing body", "send_message", map[string]any{"phone": "17472822486"}, "body", "required"},
		{"blank body", "send_message", map[string]any{"phone": "17472822486", "body": "  "}, "body", "must not be empty"},
		{"number as body", "send_message", map[string]any{"phone": "17472822486", "body": 42}, "body", "must be a string"},
		{"malformed mention", "send_message", map[string]any{"chat_id": "1-2@g.us", "body": "hi", "mentioned_phones": []any{"17472822486", "abc"}}, "mentioned_phones[1]", "does not match"},
		{"unknown field", "send_message", map[string]any{"phone": "17472822486", "body": "hi", "to": "x"}, "to", "unknown field"},
		{"file from ftp", "send_file", map[string]any{"phone": "17472822486", "body": "ftp://example.com/a.jpg", "filename": "a.jpg"}, "body", "does not match"},
		{"file without a name", "send_file", map[string]any{"phone": "17472822486", "body": "https://example.com/a.jpg"}, "filename", "required"},
		{"instance without type", "create_instance", map[string]any{}, "type", "required"},
		{"delete without id", "delete_instance", map[string]any{}, "instance_id", "required"},
		{"delete a path", "delete_instance", map[string]any{"instance_id": "1&uid=x"}, "instance_id", "does not match"},
	}
	for transportName, serve := range transports {
		for _, tc := range cases {
			t.Run(transportName+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, serve, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
				_, err := e.invoke(t, tc.action, tc.input)
				got := errorClass(t, err)
				require.Equal(t, sdk.ClassPermanent, got.Class, "error: %v", got)
				require.Equal(t, tc.field, got.Field, "error: %v", got)
				require.Contains(t, got.Error(), tc.message)
				require.Empty(t, e.requests(""), "invalid input must fail before anything is sent")
			})
		}
	}
}

func TestMissingCredentialsFailBeforeSending(t *testing.T) {
	t.Parallel()
	e := setup(t, grpc, newProvider(sdk.NewHTTP(requestTimeout)), fixtureAPI(t))
	e.configure(t, map[string]any{"uid": testUID, "management_url": e.url + "/chatapi"})
	_, err := e.invoke(t, "send_message", map[string]any{"phone": "17472822486", "body": "hi"})
	got := errorClass(t, err)
	require.Equal(t, sdk.ClassPermanent, got.Class)
	require.Contains(t, got.Message, "instance_id and token")

	e.configure(t, map[string]any{"instance_id": testInstanceID, "token": testToken, "api_url": e.url + "/chatapi"})
	_, err = e.invoke(t, "list_instances", map[string]any{})
	got = errorClass(t, err)
	require.Equal(t, sdk.ClassPermanent, got.Class)
	require.Contains(t, got.Message, "uid")
	require.Empty(t, e.requests(""))
}
