package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// fuzzRequest builds a POST to path with body and headers, as a client
// could send it, bypassing the URL parsing a test helper would panic on.
func fuzzRequest(path string, body []byte, headers map[string]string) *http.Request {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.URL = &url.URL{Path: path}
	r.RequestURI = path
	for k, v := range headers {
		if k != "" {
			r.Header.Add(k, v)
		}
	}
	return r
}

// checkResponse fails unless w is a JSON response whose shape fits its
// status code.
func checkResponse(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 300 && w.Code < 400 {
		return // the mux redirects unclean paths
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %q", w.Code, w.Body)
	}
	if w.Code >= 400 {
		if _, ok := body["error"].(string); !ok {
			t.Fatalf("status %d without an error: %s", w.Code, w.Body)
		}
	}
	for _, secret := range []string{hookSecret, chatapiToken} {
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("secret in response: %s", w.Body)
		}
	}
}

func FuzzHookHandler(f *testing.F) {
	f.Add("signed", []byte(hookBody), "application/json", "", true, "")
	f.Add("signed", []byte(hookBody), "", "key-1", false, "sha256=00")
	f.Add("team/open", []byte(`a=1&b=2`), "application/x-www-form-urlencoded", "", false, "")
	f.Add("team/open", []byte("plain text"), "text/plain; charset=utf-8", "k", false, "")
	f.Add("team/open/", []byte(`{"a":[1,2,{"b":null}]}`), "application/vnd.x+json", strings.Repeat("k", 255), false, "")
	f.Add("../signed", []byte{0xff, 0x00}, "application/octet-stream", "\x00", false, "")
	f.Add("", []byte(`{"a":`), "text/plain; charset", "", true, "")
	f.Add("team/open", []byte(`{"a":[1e400]}`), "", "", false, "")

	rt := &fakeRuntime{project: loadProject(f)}
	h := httpapi.New(rt, httpapi.Options{MaxBody: 4 << 10, Now: func() time.Time { return time.Unix(0, 0) }})

	f.Fuzz(func(t *testing.T, path string, body []byte, contentType, idemKey string, sign bool, signature string) {
		headers := map[string]string{"Content-Type": contentType, "X-Any": signature}
		if idemKey != "" {
			headers["Idempotency-Key"] = idemKey
		}
		if sign {
			headers[httpapi.SignatureHeader] = httpapi.Sign(hookSecret, body)
		} else if signature != "" {
			headers[httpapi.SignatureHeader] = signature
		}
		before, _ := rt.lastCall()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fuzzRequest("/hooks/"+path, body, headers))
		if w.Code >= 500 {
			t.Fatalf("status %d for path %q: %s", w.Code, path, w.Body)
		}
		checkResponse(t, w)
		after, c := rt.lastCall()
		if w.Code != http.StatusAccepted {
			if after != before {
				t.Fatalf("status %d, yet a run was started", w.Code)
			}
			return
		}
		if after != before+1 {
			t.Fatalf("202 with %d trigger calls", after-before)
		}
		if c.Workflow == "signed" && !sign && !strings.Contains(signature, "sha256=") {
			t.Fatalf("signed hook accepted without a signature")
		}
		if _, err := json.Marshal(c.Trigger); err != nil {
			t.Fatalf("trigger cannot be stored: %v", err)
		}
		if err := store.ValidateIdempotencyKey(c.Key, c.TTL); err != nil {
			t.Fatalf("key the store refuses: %v", err)
		}
		for name, v := range c.Trigger.Headers {
			if name != strings.ToLower(name) || (name == "x-herald-signature" && v != "***") {
				t.Fatalf("header %q: %q in trigger.headers", name, v)
			}
		}
	})
}

// webhookOutcome is what the fake runtime answers a provider webhook with,
// chosen by the fuzzer.
var webhookOutcomes = []struct {
	ids  []string
	err  error
	code int
}{
	{ids: []string{"r1", "r2"}, code: http.StatusOK},
	{ids: nil, code: http.StatusOK},
	{err: sdk.Unverified("bad signature"), code: http.StatusUnauthorized},
	{err: sdk.ErrUnknownInstance, code: http.StatusNotFound},
	{err: sdk.Permanent(errors.New("malformed payload")), code: http.StatusBadRequest},
	{err: sdk.Retryable(errors.New("plugin restarting")), code: http.StatusServiceUnavailable},
	{err: errors.New("store failed"), code: http.StatusInternalServerError},
}

func FuzzProviderWebhookHandler(f *testing.F) {
	f.Add("support", []byte(chatwootDelivery), "X-Chatwoot-Signature", "sha256=abc", "token=1", byte(0))
	f.Add("support", []byte{}, "", "", "", byte(1))
	f.Add("support", []byte("x"), "X-Chatwoot-Timestamp", "0", "a=%zz", byte(2))
	f.Add("chatapi", []byte(`{"instanceId":1,"messages":[]}`), "Content-Type", "application/json", "", byte(3))
	f.Add("nope", []byte("{}"), "", "", "", byte(4))
	f.Add("support/../chatapi", []byte("{}"), "", "", "", byte(5))
	f.Add("chatapi", []byte("{}"), "Authorization", "Bearer x", "", byte(6))

	rt := &fakeRuntime{project: loadProject(f)}
	h := httpapi.New(rt, httpapi.Options{MaxBody: 4 << 10})

	f.Fuzz(func(t *testing.T, instance string, body []byte, header, value, query string, outcome byte) {
		o := webhookOutcomes[int(outcome)%len(webhookOutcomes)]
		called := false
		fn := func(_ context.Context, got string, req *sdk.WebhookRequest) ([]string, error) {
			called = true
			if got != req.Instance || req.Body == nil {
				t.Fatalf("request for %q carries instance %q, body nil %v", got, req.Instance, req.Body == nil)
			}
			return o.ids, o.err
		}
		rt.mu.Lock()
		rt.webhook = fn
		rt.mu.Unlock()

		r := fuzzRequest("/providers/"+instance+"/webhook", body, map[string]string{header: value})
		r.URL.RawQuery = query
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		checkResponse(t, w)
		switch {
		case called && w.Code != o.code:
			t.Fatalf("runtime answered %v, status %d, want %d: %s", o.err, w.Code, o.code, w.Body)
		case !called && w.Code >= 500:
			t.Fatalf("status %d without the runtime failing: %s", w.Code, w.Body)
		case w.Code == http.StatusOK:
			var resp struct {
				RunIDs []string `json:"run_ids"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.RunIDs == nil {
				t.Fatalf("200 without a run_ids list: %s", w.Body)
			}
		}
	})
}
