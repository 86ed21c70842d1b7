package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
)

func TestHookSignedStartsRun(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)

	w := f.do(t, "POST", "/hooks/signed?team=ops&tag=a&tag=b", strReader(hookBody), signed(hookSecret, hookBody,
		"Content-Type", "application/json",
		"X-Request-Id", "abc",
		"X-Multi", "one",
		"X-Multi", "two",
		"Authorization", "Bearer "+apiToken,
		"Cookie", "session=1",
		"X-Api-Key", "key-1234",
		"X-Gitlab-Token", "glt-1234",
	)...)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	ids := runIDs(t, w)
	require.Len(t, ids, 1)

	calls := f.rt.triggerCalls()
	require.Len(t, calls, 1)
	c := calls[0]
	require.Equal(t, "signed", c.Workflow)
	require.Empty(t, c.Key, "no Idempotency-Key, no key")
	require.Equal(t, engine.KindWebhook, c.Trigger.Kind)
	require.Equal(t, f.now, c.Trigger.Time)
	require.Equal(t, map[string]any{
		"urgent": true, "count": int64(3), "ratio": 0.5,
		"recipients": []any{map[string]any{"phone": "1"}},
	}, c.Trigger.Body)
	require.Equal(t, "abc", c.Trigger.Headers["x-request-id"])
	require.Equal(t, "one, two", c.Trigger.Headers["x-multi"])
	require.Equal(t, "application/json", c.Trigger.Headers["content-type"])
	for _, h := range []string{"x-herald-signature", "authorization", "cookie", "x-api-key", "x-gitlab-token"} {
		require.Equal(t, "***", c.Trigger.Headers[h], "credentials are masked before the run is stored")
	}
	for name := range c.Trigger.Headers {
		require.Equal(t, strings.ToLower(name), name)
	}
	require.Equal(t, map[string]string{"team": "ops", "tag": "a, b"}, c.Trigger.Query)

	// The run the hook created reads back through the API.
	w = f.do(t, "GET", "/api/v1/runs/"+ids[0], nil, bearer()...)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	run := decode[engine.RunView](t, w)
	require.Equal(t, "signed", run.Workflow)
	require.JSONEq(t, hookBody, string(mustField(t, run.Trigger, "body")))
}

func TestHookSignatureRequired(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for name, headers := range map[string][]string{
		"missing":          nil,
		"wrong secret":     signed("not-the-secret", hookBody),
		"other body":       signed(hookSecret, hookBody+" "),
		"no prefix":        {httpapi.SignatureHeader, strings.TrimPrefix(httpapi.Sign(hookSecret, []byte(hookBody)), "sha256=")},
		"sha1 prefix":      {httpapi.SignatureHeader, "sha1=" + strings.TrimPrefix(httpapi.Sign(hookSecret, []byte(hookBody)), "sha256=")},
		"not hex":          {httpapi.SignatureHeader, "sha256=zz"},
		"truncated":        {httpapi.SignatureHeader, httpapi.Sign(hookSecret, []byte(hookBody))[:40]},
		"two signatures":   append(signed(hookSecret, hookBody), httpapi.SignatureHeader, httpapi.Sign(hookSecret, []byte(hookBody))),
		"api token is not": bearer(),
	} {
		t.Run(name, func(t *testing.T) {
			w := f.do(t, "POST", "/hooks/signed", strReader(hookBody), headers...)
			msg := errorOf(t, w, http.StatusUnauthorized)
			require.Contains(t, msg, httpapi.SignatureHeader)
			requireNoSecret(t, w.Body.String())
		})
	}
	require.Empty(t, f.rt.triggerCalls(), "no run may start without a valid signature")

	// Upper-case hex is the same signature.
	sig := "sha256=" + strings.ToUpper(strings.TrimPrefix(httpapi.Sign(hookSecret, []byte(hookBody)), "sha256="))
	w := f.do(t, "POST", "/hooks/signed", strReader(hookBody), httpapi.SignatureHeader, sig)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}

func TestHookWithoutSecretNeedsNoSignatureNorToken(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	w := f.do(t, "POST", "/hooks/team/open", strReader(`{"a":1}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, runIDs(t, w), 1)
	// Leading and trailing slashes do not matter.
	w = f.do(t, "POST", "/hooks/team/open/", strReader(`{"a":1}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}

func TestHookUnknownPath(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, path := range []string{"/hooks/nope", "/hooks/", "/hooks/team", "/hooks/signed/extra"} {
		w := f.do(t, "POST", path, strReader(hookBody))
		require.Contains(t, errorOf(t, w, http.StatusNotFound), "/hooks/", path)
	}
	require.Empty(t, f.rt.triggerCalls())
}

func TestHookBodyLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	max := int(httpapi.DefaultMaxBody)
	// A JSON string of exactly the limit is accepted.
	atLimit := `"` + strings.Repeat("a", max-2) + `"`
	w := f.do(t, "POST", "/hooks/team/open", strReader(atLimit))
	require.Equal(t, http.StatusAccepted, w.Code, "%.200s", w.Body)

	over := atLimit + " "
	// Announced by Content-Length, and streamed without one.
	for name, body := range map[string]io.Reader{
		"content-length": strReader(over),
		"streamed":       io.MultiReader(strReader(over)),
	} {
		t.Run(name, func(t *testing.T) {
			w := f.do(t, "POST", "/hooks/team/open", body)
			require.Contains(t, errorOf(t, w, http.StatusRequestEntityTooLarge), "1 MiB")
		})
	}
	// The signature is not even checked on an oversized body.
	w = f.do(t, "POST", "/hooks/signed", strReader(over), signed(hookSecret, over)...)
	errorOf(t, w, http.StatusRequestEntityTooLarge)
	require.Len(t, f.rt.triggerCalls(), 1)
}

func TestHookMaxBodyOption(t *testing.T) {
	t.Parallel()
	rt := &fakeRuntime{project: loadProject(t)}
	h := httpapi.New(rt, httpapi.Options{MaxBody: 10})
	w := serve(h, "POST", "/hooks/team/open", strReader(`{"a":12345}`))
	require.Contains(t, errorOf(t, w, http.StatusRequestEntityTooLarge), "10 bytes")
	w = serve(h, "POST", "/hooks/team/open", strReader(`{"a":1234}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}

func TestHookBodyReadError(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "POST", "/hooks/team/open", iotest.ErrReader(io.ErrUnexpectedEOF))
	require.Contains(t, errorOf(t, w, http.StatusBadRequest), "read request body")
}

func TestHookBodyDecoding(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, tc := range []struct {
		name, contentType, body string
		want                    any
		wantErr                 string
	}{
		{name: "json", contentType: "application/json", body: `{"n":1,"f":1.5}`, want: map[string]any{"n": int64(1), "f": 1.5}},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `[1,"x"]`, want: []any{int64(1), "x"}},
		{name: "vendor json", contentType: "application/vnd.github+json", body: `{"ok":true}`, want: map[string]any{"ok": true}},
		{name: "no content type", body: `{"ok":true}`, want: map[string]any{"ok": true}},
		{name: "empty", contentType: "application/json", body: "", want: nil},
		{name: "blank", body: " \n", want: nil},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "a=1&b=x+y&b=z", want: map[string]any{"a": "1", "b": "x y, z"}},
		{name: "curl -d JSON under the form type", contentType: "application/x-www-form-urlencoded", body: `{"a":1}`, want: map[string]any{"a": int64(1)}},
		{name: "text", contentType: "text/plain", body: "deploy finished", want: "deploy finished"},
		{name: "json sent as text", contentType: "text/plain", body: `{"a":1}`, want: map[string]any{"a": int64(1)}},
		{name: "invalid json", contentType: "application/json", body: `{"a":`, wantErr: "body is not valid JSON: unexpected end of JSON input"},
		{name: "json syntax", body: `{"a" 1}`, wantErr: "invalid character '1' after object key (at byte 6)"},
		{name: "trailing data", body: `{"a":1} {"b":2}`, wantErr: "unexpected data after the JSON value"},
		{name: "number out of range", body: `{"a":[1,-1e400]}`, wantErr: "body is not valid JSON: number out of range at /a/1"},
		{name: "text number out of range", contentType: "text/plain", body: `1e999`, wantErr: "number out of range at /"},
		{name: "bad form", contentType: "application/x-www-form-urlencoded", body: "a=%zz", wantErr: "body is not a valid form"},
		{name: "binary", contentType: "application/octet-stream", body: "\xff\xfe\x00", wantErr: "neither JSON nor UTF-8 text"},
		{name: "bad content type", contentType: "text/plain; charset", body: "x", wantErr: "malformed Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.contentType != "" {
				headers = []string{"Content-Type", tc.contentType}
			}
			before := len(f.rt.triggerCalls())
			w := f.do(t, "POST", "/hooks/team/open", strReader(tc.body), headers...)
			if tc.wantErr != "" {
				require.Contains(t, errorOf(t, w, http.StatusBadRequest), tc.wantErr)
				require.Len(t, f.rt.triggerCalls(), before)
				return
			}
			require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			calls := f.rt.triggerCalls()
			require.Equal(t, tc.want, calls[len(calls)-1].Trigger.Body)
		})
	}
}

func TestHookIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	post := func(key string) []string {
		t.Helper()
		w := f.do(t, "POST", "/hooks/team/open", strReader(hookBody), "Idempotency-Key", key)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		return runIDs(t, w)
	}
	first := post("delivery-1")
	require.Equal(t, first, post("delivery-1"), "a repeat returns the first run")
	require.NotEqual(t, first, post("delivery-2"))

	calls := f.rt.triggerCalls()
	require.Equal(t, "hook:team/open:delivery-1", calls[0].Key)
	require.Equal(t, httpapi.IdempotencyTTL, calls[0].TTL)

	// The key is scoped by path: the same key on another hook is another run.
	body := `{}`
	w := f.do(t, "POST", "/hooks/signed", strReader(body), signed(hookSecret, body, "Idempotency-Key", "delivery-1")...)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.NotEqual(t, first, runIDs(t, w))

	for name, headers := range map[string][]string{
		"too long":      {"Idempotency-Key", strings.Repeat("k", httpapi.MaxIdempotencyKeyLen+1)},
		"empty":         {"Idempotency-Key", ""},
		"twice":         {"Idempotency-Key", "a", "Idempotency-Key", "b"},
		"control chars": {"Idempotency-Key", "a\x01b"},
		"not utf-8":     {"Idempotency-Key", "a\xffb"},
	} {
		t.Run(name, func(t *testing.T) {
			w := f.do(t, "POST", "/hooks/team/open", strReader(hookBody), headers...)
			require.Contains(t, errorOf(t, w, http.StatusBadRequest), "Idempotency-Key")
		})
	}
	w = f.do(t, "POST", "/hooks/team/open", strReader(hookBody), "Idempotency-Key", strings.Repeat("k", httpapi.MaxIdempotencyKeyLen))
	require.Equal(t, http.StatusAccepted, w.Code, "a key of the maximum length is fine: %s", w.Body)
}

func TestHookIdempotencyKeyReusedWithADifferentRequest(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	post := func(target, body string) *httptest.ResponseRecorder {
		t.Helper()
		return f.do(t, "POST", target, strReader(body), "Idempotency-Key", "delivery-7", "X-Request-Id", store.NewRunID())
	}
	w := post("/hooks/team/open?env=prod", hookBody)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	first := runIDs(t, w)

	w = post("/hooks/team/open?env=prod", hookBody)
	require.Equal(t, http.StatusAccepted, w.Code, "a redelivery with other headers is a true repeat: %s", w.Body)
	require.Equal(t, first, runIDs(t, w))

	w = post("/hooks/team/open?env=prod", `{"urgent":false}`)
	require.Contains(t, errorOf(t, w, http.StatusUnprocessableEntity), "Idempotency-Key reused with a different request body")
	w = post("/hooks/team/open?env=staging", hookBody)
	require.Contains(t, errorOf(t, w, http.StatusUnprocessableEntity), "Idempotency-Key reused", "the query is part of the request")

	runs, err := f.rt.st.ListRuns(t.Context(), store.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestHookRuntimeErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.rt.triggerErr = errorWithSecret()
	w := f.do(t, "POST", "/hooks/team/open", strReader(hookBody))
	msg := errorOf(t, w, http.StatusInternalServerError)
	require.Equal(t, "internal error: start run failed; see the host log", msg, "an unauthenticated caller learns nothing of the cause")
	requireNoSecret(t, w.Body.String())
}

// mustField returns one field of a JSON object.
func mustField(t testing.TB, raw []byte, name string) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &obj))
	v, ok := obj[name]
	require.True(t, ok, "no %s in %s", name, raw)
	return bytes.TrimSpace(v)
}

// TestHookMasksSensitiveFields sends credentials in headers, the query and
// the body: the default credential names and those the trigger's sensitive
// list names reach the runtime as "***", everything else as sent.
func TestHookMasksSensitiveFields(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	body := `{"auth":{"user":"ann","password":"pw-1234"},"text":"hi"}`
	w := f.do(t, "POST", "/hooks/team/open?pin=4321&access_token=at-1234&page=2", strReader(body),
		"Content-Type", "application/json",
		"X-Pager-Pin", "9876",
		"X-Api-Key", "key-1234",
		"X-Hub-Signature-256", "sha256=00",
		"Api_Access_Token", "cw-1234",
		"X-Request-Id", "abc",
	)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	calls := f.rt.triggerCalls()
	require.Len(t, calls, 1)
	tr := calls[0].Trigger
	require.Equal(t, map[string]string{
		"content-type":        "application/json",
		"x-pager-pin":         "***",
		"x-api-key":           "***",
		"x-hub-signature-256": "***",
		"api_access_token":    "***",
		"x-request-id":        "abc",
	}, tr.Headers)
	require.Equal(t, map[string]string{"pin": "***", "access_token": "***", "page": "2"}, tr.Query)
	require.Equal(t, map[string]any{"auth": map[string]any{"user": "ann", "password": "***"}, "text": "hi"}, tr.Body)
}
