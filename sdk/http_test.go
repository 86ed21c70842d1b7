package sdk_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// doStatus answers one request with status, header and body and returns the
// error HTTP.Do classified it as.
func doStatus(t *testing.T, h *sdk.HTTP, status int, header http.Header, body string) *sdk.Error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	_, err := h.Do(context.Background(), nil, sdk.Request{Method: http.MethodPost, URL: srv.URL + "/x", Body: map[string]any{"a": 1}})
	require.Error(t, err)
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	return e
}

func TestHTTPDoClassifiesStatus(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := sdk.NewHTTP(5 * time.Second)
	h.Now = func() time.Time { return now }

	t.Run("429 with Retry-After seconds", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 429, http.Header{"Retry-After": {"7"}}, `{"error":"slow down"}`)
		require.Equal(t, sdk.ClassRateLimited, e.Class)
		require.Equal(t, 7*time.Second, e.RetryAfter)
		require.Equal(t, 429, e.StatusCode)
		require.Contains(t, e.Message, "slow down")
	})
	t.Run("429 with Retry-After date", func(t *testing.T) {
		t.Parallel()
		date := now.Add(90 * time.Second).Format(http.TimeFormat)
		e := doStatus(t, h, 429, http.Header{"Retry-After": {date}}, "")
		require.Equal(t, sdk.ClassRateLimited, e.Class)
		require.Equal(t, 90*time.Second, e.RetryAfter)
		require.Contains(t, e.Message, "Too Many Requests")
	})
	t.Run("429 without Retry-After", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 429, nil, "")
		require.Equal(t, sdk.ClassRateLimited, e.Class)
		require.Zero(t, e.RetryAfter)
	})
	for _, status := range []int{500, 502, 503, 504, 408} {
		t.Run("retryable "+http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			e := doStatus(t, h, status, nil, "upstream broke")
			require.Equal(t, sdk.ClassRetryable, e.Class)
			require.Equal(t, status, e.StatusCode)
			require.Contains(t, e.Message, "upstream broke")
		})
	}
	t.Run("400 carries the provider's JSON message", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 400, nil, `{"error":"phone is not a WhatsApp number","code":17}`)
		require.Equal(t, sdk.ClassPermanent, e.Class)
		require.Equal(t, "provider answered HTTP 400: phone is not a WhatsApp number", e.Message)
	})
	t.Run("422 with a structured errors member", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 422, nil, `{"errors":[{"field":"to","message":"invalid"}]}`)
		require.Equal(t, sdk.ClassPermanent, e.Class)
		require.Equal(t, `provider answered HTTP 422: [{"field":"to","message":"invalid"}]`, e.Message)
	})
	t.Run("401 with a text body", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 401, nil, "  invalid token\n")
		require.Equal(t, sdk.ClassPermanent, e.Class)
		require.Equal(t, "provider answered HTTP 401: invalid token", e.Message)
	})
	t.Run("404 without a body", func(t *testing.T) {
		t.Parallel()
		e := doStatus(t, h, 404, nil, "")
		require.Equal(t, sdk.ClassPermanent, e.Class)
		require.Equal(t, "provider answered HTTP 404: Not Found", e.Message)
	})
	t.Run("custom message extraction", func(t *testing.T) {
		t.Parallel()
		custom := sdk.NewHTTP(5 * time.Second)
		custom.ErrorMessage = func(body []byte) string {
			var v struct{ Msg string }
			_ = json.Unmarshal(body, &v)
			return v.Msg
		}
		e := doStatus(t, custom, 400, nil, `{"msg":"template not approved"}`)
		require.Equal(t, "provider answered HTTP 400: template not approved", e.Message)
	})
}

func TestHTTPDoSuccess(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": 9007199254740993, "sent": true}`)
	}))
	t.Cleanup(srv.Close)
	h := sdk.NewHTTP(5 * time.Second)
	resp, err := h.Do(context.Background(), nil, sdk.Request{
		Method: http.MethodPost,
		URL:    srv.URL + "/send?a=1",
		Query:  url.Values{"b": {"2"}},
		Body:   map[string]any{"text": "hi"},
	})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "a=1&b=2", got.URL.RawQuery)
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))
	require.Equal(t, "herald", got.Header.Get("User-Agent"))
	require.JSONEq(t, `{"text":"hi"}`, string(gotBody))
	var out map[string]any
	require.NoError(t, resp.JSON(&out))
	require.Equal(t, json.Number("9007199254740993"), out["id"], "large ids keep their precision")

	bad := &sdk.Response{StatusCode: 200, Body: []byte("<html>")}
	err = bad.JSON(&out)
	require.Equal(t, sdk.ClassPermanent, sdk.AsError(err).Class)
}

func TestHTTPDoConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	h := sdk.NewHTTP(5 * time.Second)
	_, err = h.Do(context.Background(), nil, sdk.Request{Method: http.MethodGet, URL: "http://" + addr + "/status?token=tok-123"})
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Contains(t, e.Message, "connection refused")
	require.NotContains(t, e.Message, "tok-123", "the query string, where tokens travel, is dropped")
}

func TestHTTPDoTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	h := sdk.NewHTTP(200 * time.Millisecond)
	_, err := h.Do(context.Background(), nil, sdk.Request{Method: http.MethodGet, URL: srv.URL + "/slow?token=tok-123"})
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Contains(t, e.Message, "timeout")
	require.NotContains(t, e.Message, "tok-123")

	// The call's context bounds the request too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = sdk.NewHTTP(time.Minute).Do(ctx, nil, sdk.Request{Method: http.MethodGet, URL: srv.URL + "/slow"})
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class)

	// A call's context that ends after the client's timeout leaves the
	// timeout in force.
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = h.Do(ctx, nil, sdk.Request{Method: http.MethodGet, URL: srv.URL + "/slow"})
	e = sdk.AsError(err)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Contains(t, e.Message, "timeout")
	require.Less(t, time.Since(start), 30*time.Second)
}

// poster is a provider whose one action posts through sdk.HTTP, so calls
// carry the secrets and body override a Server sets up.
type poster struct{ http *sdk.HTTP }

func (p *poster) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "poster",
		Version: "0.1.0",
		Config: sdk.Fields(
			sdk.String("api_url", "").AsRequired(),
			sdk.String("token", "").AsSensitive().AsRequired(),
			sdk.String("region", "").OneOf("eu", "us").WithDefault("eu"),
		),
		Actions: []sdk.Action{{
			Name:   "post",
			Input:  sdk.Fields(sdk.String("text", "").AsRequired()),
			Output: sdk.Schema{AdditionalFields: true},
			Run: func(ctx context.Context, call *sdk.Call) (any, error) {
				resp, err := p.http.Do(ctx, call, sdk.Request{
					Method:    http.MethodPost,
					URL:       call.Config.String("api_url") + "/" + call.Config.String("region") + "/send",
					Query:     url.Values{"token": {call.Config.String("token")}},
					Header:    http.Header{"Authorization": {"Bearer " + call.Config.String("token")}},
					Body:      map[string]any{"text": call.Input["text"], "options": map[string]any{"preview": true}},
					MergeBody: true,
				})
				if err != nil || resp.DryRun {
					return nil, err
				}
				var out map[string]any
				return out, resp.JSON(&out)
			},
		}},
	}
}

// recorder is a fake API that records the requests it receives.
type recorder struct {
	mu     sync.Mutex
	bodies []string
	urls   []string
	status int
	answer string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.urls = append(r.urls, req.URL.String())
	status, answer := r.status, r.answer
	r.mu.Unlock()
	if status == 0 {
		status = 200
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func newPoster(t *testing.T, rec *recorder) *sdk.Server {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	s := sdk.NewServer(&poster{http: sdk.NewHTTP(5 * time.Second)}, nil)
	cfg, _ := json.Marshal(map[string]any{"api_url": srv.URL, "token": "tok/s3cr3t+1"})
	require.NoError(t, s.Configure(context.Background(), "main", cfg))
	return s
}

func TestHTTPDoDryRunRendersMaskedRequest(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := newPoster(t, rec)
	out, err := s.Invoke(context.Background(), &sdk.InvokeRequest{
		Instance:     "main",
		Action:       "post",
		Input:        json.RawMessage(`{"text":"hello"}`),
		BodyOverride: json.RawMessage(`{"options":{"quoted":"m1"},"extra":1}`),
		DryRun:       true,
	})
	require.NoError(t, err)
	require.Zero(t, rec.count(), "dry-run sends nothing")
	require.NotContains(t, string(out), "s3cr3t")
	var got struct {
		DryRun   bool                  `json:"dry_run"`
		Requests []sdk.RenderedRequest `json:"requests"`
	}
	require.NoError(t, json.Unmarshal(out, &got))
	require.True(t, got.DryRun)
	require.Len(t, got.Requests, 1)
	r := got.Requests[0]
	require.Equal(t, "POST", r.Method)
	require.True(t, strings.HasSuffix(r.URL, "/eu/send?token=***"), r.URL)
	require.Equal(t, "Bearer ***", r.Header["Authorization"])
	require.Equal(t, "application/json", r.Header["Content-Type"])
	require.Equal(t, map[string]any{
		"text":    "hello",
		"options": map[string]any{"preview": true, "quoted": "m1"},
		"extra":   float64(1),
	}, r.Body)
}

func TestHTTPDoMergesBodyOverrideAndMasksErrors(t *testing.T) {
	t.Parallel()
	rec := &recorder{answer: `{"ok":true}`}
	s := newPoster(t, rec)
	_, err := s.Invoke(context.Background(), &sdk.InvokeRequest{
		Instance:     "main",
		Action:       "post",
		Input:        json.RawMessage(`{"text":"hello"}`),
		BodyOverride: json.RawMessage(`{"options":{"quoted":"m1"}}`),
	})
	require.NoError(t, err)
	require.Len(t, rec.bodies, 1)
	require.JSONEq(t, `{"text":"hello","options":{"preview":true,"quoted":"m1"}}`, rec.bodies[0])
	require.Contains(t, rec.urls[0], "token=tok%2Fs3cr3t%2B1", "the real request carries the secret")

	rec.mu.Lock()
	rec.status, rec.answer = 403, `{"error":"token tok/s3cr3t+1 is revoked"}`
	rec.mu.Unlock()
	_, err = s.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "post", Input: json.RawMessage(`{"text":"x"}`)})
	e := sdk.AsError(err)
	require.Equal(t, sdk.ClassPermanent, e.Class)
	require.Equal(t, "provider answered HTTP 403: token *** is revoked", e.Message)
}

// TestHTTPDoMasksBeforeTruncating has providers echo the token in error and
// unexpected bodies at the point where the SDK cuts them short: the message
// must hold no part of the token longer than a few characters.
func TestHTTPDoMasksBeforeTruncating(t *testing.T) {
	t.Parallel()
	const token = "tok/s3cr3t+1"
	pad := func(n int) string { return strings.Repeat("x", n) }
	cases := map[string]struct {
		status int
		answer string
	}{
		// DefaultErrorMessage keeps the first 300 bytes of a text body.
		"text body cut at 300":   {400, pad(292) + " " + token + " rest"},
		"JSON member cut at 300": {422, `{"errors":{"detail":"` + pad(280) + ` ` + token + `"}}`},
		// PHP escapes "/" as "\/": only decoding the body finds the token.
		"escaped slash, member cut at 300": {422, `{"errors":{"detail":"` + pad(280) + ` tok\/s3cr3t+1"}}`},
		// Response.JSON keeps the first 200 bytes of a body it cannot read.
		"unexpected 2xx body cut at 200": {200, "<html>" + pad(188) + " " + token + "</html>"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newPoster(t, &recorder{status: c.status, answer: c.answer})
			_, err := s.Invoke(context.Background(), &sdk.InvokeRequest{Instance: "main", Action: "post", Input: json.RawMessage(`{"text":"x"}`)})
			require.Error(t, err)
			msg := sdk.AsError(err).Message
			for n := 4; n <= len(token); n++ {
				require.NotContains(t, msg, token[:n], "the message shows the token's first %d characters: %s", n, msg)
			}
		})
	}
}
