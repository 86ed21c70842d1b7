package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// Secrets of the test project; none may ever appear in a response.
const (
	apiToken     = "api-token-0123456789"
	hookSecret   = "hook-secret-abcdef"
	chatapiToken = "chatapi-token-zyxwvu"
)

const projectHCL = `
provider "chatapi" {
  config = { instance_id = "12345", token = "{{ secrets.CHATAPI_TOKEN }}" }
}
provider "support" {
  type   = "chatwoot"
  config = { base_url = "https://chat.example.com", account_id = 1, inbox_id = 3 }
}

workflow "signed" {
  description = "A signed webhook"
  trigger "webhook" {
    path   = "signed"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}

workflow "open" {
  trigger "webhook" {
    path      = "team/open"
    sensitive = ["X-Pager-Pin", "query.pin", "body.auth.password"]
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "hi" }
  }
}

workflow "digest" {
  description = "Morning on-call reminder"
  trigger "cron" {
    schedule = "0 9 * * MON-FRI"
    timezone = "Europe/Berlin"
    catchup  = "latest"
  }
  trigger "event" {
    event    = "chatwoot.message_created"
    provider = "support"
  }
  concurrency {
    limit    = 1
    on_limit = "skip"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "Good morning" }
  }
}
`

// loadProject loads the test project with its secrets.
func loadProject(t testing.TB) *config.Project {
	t.Helper()
	secrets := map[string]string{"HOOK_SECRET": hookSecret, "CHATAPI_TOKEN": chatapiToken}
	p, diags := config.LoadSources([]config.Source{{Name: "project.hcl", Data: []byte(projectHCL)}}, config.LoadOptions{
		Secret: func(name string) (string, bool) { v, ok := secrets[name]; return v, ok },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	return p
}

// triggerCall is one call of fakeRuntime.Trigger.
type triggerCall struct {
	Workflow string
	Trigger  engine.Trigger
	Key      string
	TTL      time.Duration
}

// fakeRuntime serves the test project. With a store, Trigger creates the
// run there, so idempotency is the store's; without one it keeps keys in
// memory, checking them as the store would.
type fakeRuntime struct {
	project *config.Project
	st      store.Store

	mu         sync.Mutex
	calls      []triggerCall
	keys       map[string]string
	triggerErr error
	// triggerPanic makes Trigger panic.
	triggerPanic bool
	webhook      func(ctx context.Context, instance string, req *sdk.WebhookRequest) ([]string, error)
	webhookReqs  []*sdk.WebhookRequest
	readyErr     error
	next         map[string][]time.Time
	// opErr is what the run operations return; ops records their calls.
	opErr  error
	ops    []string
	events hubForTest
	// created, when set, is called with each run Trigger creates in the
	// store, before Trigger returns.
	created func(id string)
}

// hubForTest fans events out to Subscribe's callbacks.
type hubForTest struct {
	mu   sync.Mutex
	subs map[int]func(engine.Event)
	next int
}

func (h *hubForTest) publish(ev engine.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fn := range h.subs {
		fn(ev)
	}
}

func (f *fakeRuntime) op(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, fmt.Sprintf(format, args...))
	return f.opErr
}

func (f *fakeRuntime) RetryRun(_ context.Context, id, fromStep, by string) error {
	return f.op("retry %s from=%q by=%s", id, fromStep, by)
}

func (f *fakeRuntime) CancelRun(_ context.Context, id, by string) error {
	return f.op("cancel %s by=%s", id, by)
}

func (f *fakeRuntime) ResolveRun(_ context.Context, id, step string, item int, sent bool, by string) error {
	return f.op("resolve %s step=%s item=%d sent=%t by=%s", id, step, item, sent, by)
}

func (f *fakeRuntime) SignalRun(_ context.Context, id, name string, data json.RawMessage, by string) error {
	return f.op("signal %s name=%s data=%s by=%s", id, name, data, by)
}

func (f *fakeRuntime) Subscribe(fn func(engine.Event)) func() {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	if f.events.subs == nil {
		f.events.subs = map[int]func(engine.Event){}
	}
	id := f.events.next
	f.events.next++
	f.events.subs[id] = fn
	return func() {
		f.events.mu.Lock()
		delete(f.events.subs, id)
		f.events.mu.Unlock()
	}
}

var _ httpapi.Runtime = (*fakeRuntime)(nil)

func (f *fakeRuntime) Project() *config.Project { return f.project }
func (f *fakeRuntime) Store() store.Store       { return f.st }

func (f *fakeRuntime) Trigger(ctx context.Context, workflow string, trig engine.Trigger, idemKey string, ttl time.Duration) (string, bool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, triggerCall{Workflow: workflow, Trigger: trig, Key: idemKey, TTL: ttl})
	err, panics := f.triggerErr, f.triggerPanic
	f.mu.Unlock()
	if panics {
		panic("trigger exploded with " + chatapiToken)
	}
	if err != nil {
		return "", false, err
	}
	raw, err := json.Marshal(trig)
	if err != nil {
		return "", false, fmt.Errorf("encode trigger: %w", err)
	}
	if f.st != nil {
		run := store.Run{ID: store.NewRunID(), Workflow: workflow, Status: store.StatusQueued, Trigger: raw, CreatedAt: time.Now(),
			RequestFingerprint: trig.RequestFingerprint}
		got, existed, err := f.st.CreateRun(ctx, run, idemKey, ttl)
		if err == nil && !existed && f.created != nil {
			f.created(got.ID)
		}
		return got.ID, existed, err
	}
	if err := store.ValidateIdempotencyKey(idemKey, ttl); err != nil {
		return "", false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.keys[idemKey]; ok && idemKey != "" {
		return id, true, nil
	}
	id := store.NewRunID()
	if idemKey != "" {
		if f.keys == nil {
			f.keys = map[string]string{}
		}
		f.keys[idemKey] = id
	}
	return id, false, nil
}

func (f *fakeRuntime) ProviderWebhook(ctx context.Context, instance string, req *sdk.WebhookRequest) ([]string, error) {
	f.mu.Lock()
	f.webhookReqs = append(f.webhookReqs, req)
	fn := f.webhook
	f.mu.Unlock()
	if fn == nil {
		return nil, nil
	}
	return fn(ctx, instance, req)
}

func (f *fakeRuntime) NextFires(workflow string) []time.Time { return f.next[workflow] }

// Ready reports readyErr, else whether the store takes writes.
func (f *fakeRuntime) Ready(ctx context.Context) error {
	if f.readyErr != nil || f.st == nil {
		return f.readyErr
	}
	return f.st.Ping(ctx)
}

// lastCall returns the number of Trigger calls so far and the last one.
func (f *fakeRuntime) lastCall() (int, triggerCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return 0, triggerCall{}
	}
	return len(f.calls), f.calls[len(f.calls)-1]
}

// triggerCalls returns a copy of the Trigger calls so far.
func (f *fakeRuntime) triggerCalls() []triggerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]triggerCall(nil), f.calls...)
}

// fixture is what a test drives: the handler over a fake runtime backed by
// a real SQLite store.
type fixture struct {
	rt      *fakeRuntime
	h       http.Handler
	metrics *metrics.Metrics
	now     time.Time
}

// setup returns a fixture; token, when set, protects /api/*.
func setup(t *testing.T, token string) *fixture {
	t.Helper()
	return setupProject(t, token, loadProject(t))
}

// setupProject returns a fixture serving p.
func setupProject(t *testing.T, token string, p *config.Project) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	rt := &fakeRuntime{project: p, st: st}
	now := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
	m := metrics.New()
	masker := sdk.NewMasker(p.MaskValues()...)
	h := httpapi.New(rt, httpapi.Options{
		Token:   token,
		Metrics: m,
		Masker:  func() *sdk.Masker { return masker },
		Now:     func() time.Time { return now },
	})
	return &fixture{rt: rt, h: h, metrics: m, now: now}
}

// do serves one request; headers are name, value pairs.
func (f *fixture) do(t testing.TB, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(f.h, method, target, body, headers...)
}

func serve(h http.Handler, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// bearer is the Authorization header pair with the test token.
func bearer() []string { return []string{"Authorization", "Bearer " + apiToken} }

// decode decodes a JSON response into T, checking its content type.
func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"), "body: %s", w.Body)
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), "body: %s", w.Body)
	return v
}

// errorOf returns the error message of a JSON error response with code.
func errorOf(t testing.TB, w *httptest.ResponseRecorder, code int) string {
	t.Helper()
	require.Equal(t, code, w.Code, "body: %s", w.Body)
	body := decode[map[string]any](t, w)
	msg, ok := body["error"].(string)
	require.True(t, ok, "no error in %s", w.Body)
	require.Len(t, body, 1, "an error response holds only the error: %s", w.Body)
	return msg
}

// requireNoSecret fails when any project secret appears in s.
func requireNoSecret(t testing.TB, s string) {
	t.Helper()
	for _, secret := range []string{apiToken, hookSecret, chatapiToken} {
		require.NotContains(t, s, secret)
	}
}

// hookBody is a JSON body for webhook tests.
const hookBody = `{"urgent":true,"count":3,"ratio":0.5,"recipients":[{"phone":"1"}]}`

// signedRequest returns the headers of a request signed with secret.
func signed(secret, body string, headers ...string) []string {
	return append([]string{httpapi.SignatureHeader, httpapi.Sign(secret, []byte(body))}, headers...)
}

// runIDs decodes a {"run_ids": [...]} response.
func runIDs(t testing.TB, w *httptest.ResponseRecorder) []string {
	t.Helper()
	body := decode[map[string][]string](t, w)
	ids, ok := body["run_ids"]
	require.True(t, ok, "no run_ids in %s", w.Body)
	require.NotNil(t, ids, "run_ids must be a list, not null")
	return ids
}

// strReader is a shorthand for strings.NewReader.
func strReader(s string) io.Reader { return strings.NewReader(s) }

// errorWithSecret is a runtime failure whose text holds a secret.
func errorWithSecret() error {
	return fmt.Errorf("store: connecting with token %s failed", chatapiToken)
}
