package chatwoot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	"github.com/heraldhq/herald/internal/sandbox"
	"github.com/heraldhq/herald/internal/specfixture"
	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// instance is the instance name the tests configure.
const instance = "support"

// bundle is what most tests need: the fake behind the sandbox (as `herald
// sandbox` mounts it, under a stripped prefix), the exchanges the fake saw,
// and the provider served over the real gRPC transport with an instance
// configured against the fake.
type bundle struct {
	fake      *fake.Fake
	sandbox   *sandbox.Sandbox
	exchanges *recorder
	baseURL   string
	config    map[string]any
	client    sdk.Client
}

// setup serves the fake; wrap, when given, wraps it to tamper with its
// traffic.
func setup(t *testing.T, wrap ...func(http.Handler) http.Handler) *bundle {
	t.Helper()
	f := fake.New()
	var h http.Handler = f
	for _, w := range wrap {
		h = w(h)
	}
	rec := &recorder{next: h}
	sb := sandbox.New()
	sb.Mount("chatwoot", "/chatwoot", rec)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	b := &bundle{
		fake:      f,
		sandbox:   sb,
		exchanges: rec,
		baseURL:   srv.URL + "/chatwoot",
		client:    sdktest.Serve(t, chatwoot.New()),
	}
	b.config = fake.ProviderConfig(b.baseURL)
	b.configure(t, instance, b.config)
	return b
}

func (b *bundle) configure(t *testing.T, name string, cfg map[string]any) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, b.client.Configure(context.Background(), name, raw))
}

// invoke runs action with input on the test instance; edit may adjust the
// request (dry-run, overrides, idempotency key).
func (b *bundle) invoke(t *testing.T, action string, input map[string]any, edit ...func(*sdk.InvokeRequest)) (map[string]any, error) {
	t.Helper()
	return invokeCtx(t, context.Background(), b.client, action, input, edit...)
}

func invokeCtx(t *testing.T, ctx context.Context, c sdk.Client, action string, input map[string]any, edit ...func(*sdk.InvokeRequest)) (map[string]any, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	req := &sdk.InvokeRequest{Instance: instance, Action: action, Input: raw, IdempotencyKey: "run-1/step-1/0", Attempt: 1}
	for _, e := range edit {
		e(req)
	}
	out, err := c.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "output %s", out)
	return m, nil
}

func dryRun(r *sdk.InvokeRequest) { r.DryRun = true }

// exchange is one request the fake received and its answer.
type exchange struct {
	Method     string
	Path       string
	Query      url.Values
	Header     http.Header
	Body       []byte
	Status     int
	RespHeader http.Header
	RespBody   []byte
}

// jsonBody decodes the request body.
func (e exchange) jsonBody(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Body, &m), "request body %s", e.Body)
	return m
}

// recorder records the exchanges of the handler it wraps.
type recorder struct {
	next http.Handler

	mu   sync.Mutex
	list []exchange
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	rw := httptest.NewRecorder()
	r.next.ServeHTTP(rw, req)
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	_, _ = w.Write(rw.Body.Bytes())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, exchange{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), Body: body,
		Status: rw.Code, RespHeader: rw.Header().Clone(), RespBody: rw.Body.Bytes(),
	})
}

// take returns the exchanges recorded since the last take.
func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}

func sharedSpecDir(t testing.TB) string {
	t.Helper()
	return specfixture.SharedDir(t, "chatwoot")
}

// specFile returns the testdata copy of one of Chatwoot's spec files,
// checked against ../shared/specs/chatwoot where it exists.
func specFile(t testing.TB, name string) []byte {
	t.Helper()
	return specfixture.Read(t, "chatwoot", name)
}
