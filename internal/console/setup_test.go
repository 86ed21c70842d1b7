package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// Secrets of the test project; none may ever appear on a page.
const (
	apiToken     = "console-token-0123456789"
	hookSecret   = "hook-secret-abcdef"
	chatapiToken = "chatapi-token-zyxwvu"
)

var secrets = []string{apiToken, hookSecret, chatapiToken}

const projectHCL = `
provider "chatapi" {
  config = { instance_id = "12345", token = "{{ secrets.CHATAPI_TOKEN }}" }
}
provider "whatsapp_cc" {
  type   = "chitchatlabs"
  config = { api_key = "k" }
}

workflow "digest" {
  description = "Morning on-call reminder"
  trigger "cron" {
    schedule = "30 2 * * *"
    timezone = "Europe/Berlin"
    catchup  = "latest"
  }
  trigger "webhook" {
    path   = "digest"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "Good morning" }
    fallback {
      uses = "whatsapp_cc.send_single"
      with = { to = { mobile = "14155550123" }, fb_template = "oncall", language = "en" }
    }
  }
  step "confirm" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "done" }
  }
}

workflow "manual" {
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "{{ trigger.body.phone }}", body = "hi" }
  }
}
`

func loadProject(t testing.TB) *config.Project {
	t.Helper()
	sec := map[string]string{"HOOK_SECRET": hookSecret, "CHATAPI_TOKEN": chatapiToken}
	p, diags := config.LoadSources([]config.Source{{Name: "project.hcl", Data: []byte(projectHCL)}}, config.LoadOptions{
		Secret: func(name string) (string, bool) { v, ok := sec[name]; return v, ok },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	return p
}

// operation is one call of an operation on fakeBackend.
type operation struct {
	Name, ID, Step, By string
	Item               int
	Sent               bool
	Data               string
}

// fakeBackend serves the test project over a real SQLite store and
// records the operations it is asked for.
type fakeBackend struct {
	project *config.Project
	st      store.Store

	mu      sync.Mutex
	ops     []operation
	opErr   error
	subs    map[int]func(engine.Event)
	nextSub int
}

var _ console.Backend = (*fakeBackend)(nil)

func (f *fakeBackend) Project() *config.Project { return f.project }
func (f *fakeBackend) Store() store.Store       { return f.st }

func (f *fakeBackend) Trigger(ctx context.Context, workflow string, trig engine.Trigger, key string, ttl time.Duration) (string, bool, error) {
	if _, ok := f.project.Workflows[workflow]; !ok {
		return "", false, engine.ErrUnknownWorkflow
	}
	raw, err := json.Marshal(trig)
	if err != nil {
		return "", false, err
	}
	run := store.Run{ID: store.NewRunID(), Workflow: workflow, Status: store.StatusQueued, Trigger: raw, CreatedAt: time.Now()}
	got, existed, err := f.st.CreateRun(ctx, run, key, ttl)
	return got.ID, existed, err
}

func (f *fakeBackend) NextFires(workflow string) []time.Time { return nil }
func (f *fakeBackend) Ready(context.Context) error           { return nil }

func (f *fakeBackend) Plugins(context.Context) []console.PluginInfo {
	return []console.PluginInfo{
		{Name: "chatapi", Version: "1.2.0", Protocol: 1, Path: "/opt/herald/herald-provider-chatapi", SHA256: strings.Repeat("ab", 32), Healthy: true, Restarts: 2, Pid: 4242, Actions: []string{"send_message", "status"}, Used: true},
		{Name: "chitchatlabs", Version: "1.0.0", Protocol: 1, Healthy: false, Health: "plugin exited: token " + chatapiToken + " rejected", Used: true},
	}
}

func (f *fakeBackend) record(op operation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	return f.opErr
}

func (f *fakeBackend) operations() []operation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]operation(nil), f.ops...)
}

func (f *fakeBackend) RetryRun(_ context.Context, id, from, by string) error {
	return f.record(operation{Name: "retry", ID: id, Step: from, By: by})
}

func (f *fakeBackend) CancelRun(_ context.Context, id, by string) error {
	return f.record(operation{Name: "cancel", ID: id, By: by})
}

func (f *fakeBackend) ResolveRun(_ context.Context, id, step string, item int, sent bool, by string) error {
	return f.record(operation{Name: "resolve", ID: id, Step: step, Item: item, Sent: sent, By: by})
}

func (f *fakeBackend) SignalRun(_ context.Context, id, name string, data json.RawMessage, by string) error {
	return f.record(operation{Name: "signal", ID: id, Step: name, Data: string(data), By: by})
}

func (f *fakeBackend) Subscribe(fn func(engine.Event)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]func(engine.Event){}
	}
	id := f.nextSub
	f.nextSub++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

func (f *fakeBackend) publish(ev engine.Event) {
	f.mu.Lock()
	subs := make([]func(engine.Event), 0, len(f.subs))
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn(ev)
	}
}

func (f *fakeBackend) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// fixture is a console over a fake backend, with a few recorded runs.
type fixture struct {
	b   *fakeBackend
	h   http.Handler
	now time.Time
	// failed is a run whose first step failed over to its fallback and
	// whose second failed, with secrets in its error, trigger and output.
	failed string
	// succeeded and running are runs of the same workflow.
	succeeded, running string
}

// setup returns a fixture; opts.Prefix defaults to /ui.
func setup(t *testing.T, opts console.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	p := loadProject(t)
	b := &fakeBackend{project: p, st: st}
	masker := sdk.NewMasker(p.MaskValues()...)
	if opts.Masker == nil {
		opts.Masker = func() *sdk.Masker { return masker }
	}
	if opts.Prefix == "" {
		opts.Prefix = "/ui"
	}
	c, err := console.New(b, opts)
	require.NoError(t, err)
	f := &fixture{b: b, h: c, now: time.Now().UTC().Truncate(time.Second)}
	f.failed = f.addRun(t, store.StatusFailed, `{"kind":"webhook","time":"2026-12-06T09:00:00Z","body":{"note":"`+chatapiToken+`"}}`, func(id string) {
		f.attempt(t, id, "notify", 1, "chatapi", store.StatusFailed, true, "", &store.StepError{Class: "retryable", Message: "HTTP 500 from https://api.chat-api.com/instance12345/sendMessage?token=" + chatapiToken})
		f.attempt(t, id, "notify", 2, "whatsapp_cc", store.StatusSucceeded, false, `{"sent":true,"echo":"`+chatapiToken+`"}`, nil)
		f.attempt(t, id, "confirm", 1, "chatapi", store.StatusFailed, false, "", &store.StepError{Class: "permanent", Message: "chat not found (token " + chatapiToken + ")"})
	}, "step confirm failed: chat not found (token "+chatapiToken+")")
	f.succeeded = f.addRun(t, store.StatusSucceeded, `{"kind":"cron","time":"2026-12-06T01:30:00Z"}`, func(id string) {
		f.attempt(t, id, "notify", 1, "chatapi", store.StatusSucceeded, false, `{"sent":true,"id":"m1"}`, nil)
		f.attempt(t, id, "confirm", 1, "chatapi", store.StatusSucceeded, false, `{"sent":true,"id":"m2"}`, nil)
	}, "")
	f.running = f.addRun(t, store.StatusRunning, `{"kind":"manual","time":"2026-12-06T09:05:00Z","body":{"phone":"1"}}`, func(id string) {
		f.attempt(t, id, "notify", 1, "chatapi", store.StatusSucceeded, false, `{"sent":true}`, nil)
	}, "")
	return f
}

// addRun stores a run of digest in status with trigger, lets steps record
// its attempts, and ends it with errText.
func (f *fixture) addRun(t *testing.T, status store.Status, trigger string, steps func(id string), errText string) string {
	t.Helper()
	ctx := context.Background()
	id := store.NewRunID()
	start := f.now.Add(-time.Minute)
	_, _, err := f.b.st.CreateRun(ctx, store.Run{ID: id, Workflow: "digest", Status: store.StatusRunning, Trigger: json.RawMessage(trigger), CreatedAt: start, StartedAt: start, Attempt: 1}, "", 0)
	require.NoError(t, err)
	steps(id)
	_, err = f.b.st.UpdateRun(ctx, id, func(r *store.Run) error {
		r.Status, r.Error = status, errText
		if status.Final() {
			r.FinishedAt = f.now
		}
		return nil
	})
	require.NoError(t, err)
	return id
}

// attempt records one finished attempt of step.
func (f *fixture) attempt(t *testing.T, run, step string, n int, provider string, status store.Status, retry bool, output string, serr *store.StepError) {
	t.Helper()
	ctx := context.Background()
	key := store.StepKey{RunID: run, StepID: step, Item: store.NoItem}
	at := f.now.Add(-time.Minute + time.Duration(n)*time.Second)
	action := "send_message"
	if provider == "whatsapp_cc" {
		action = "send_single"
	}
	require.NoError(t, f.b.st.StartAttempt(ctx, key, store.AttemptStart{Number: n, Provider: provider, Action: action, StartedAt: at}))
	res := store.AttemptResult{Status: status, WillRetry: retry, Error: serr, FinishedAt: at.Add(420 * time.Millisecond), Outcome: store.OutcomeSucceeded,
		Request:  json.RawMessage(`{"method":"POST","url":"https://api.chat-api.com/instance12345/sendMessage?token=` + chatapiToken + `","body":{"phone":"14155550123","body":"Good morning"}}`),
		Response: json.RawMessage(`{"status":200,"body":"{\"sent\":true}"}`)}
	if serr != nil {
		res.Outcome = store.Outcome(serr.Class)
		res.Response = json.RawMessage(`{"status":500,"body":"{\"error\":\"upstream down\"}"}`)
	}
	if output != "" {
		res.Output = json.RawMessage(output)
	}
	require.NoError(t, f.b.st.FinishAttempt(ctx, key, n, res))
}

// client is a browser of the console: it keeps the session cookie.
type client struct {
	t      *testing.T
	h      http.Handler
	cookie *http.Cookie
	remote string
}

func (f *fixture) client(t *testing.T) *client {
	return &client{t: t, h: f.h, remote: "127.0.0.1:50000"}
}

// do serves one request, remembering a session cookie the console sets.
func (c *client) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.RemoteAddr = c.remote
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != nil {
		r.AddCookie(c.cookie)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == "herald_console" {
			if ck.MaxAge < 0 {
				c.cookie = nil
			} else {
				c.cookie = ck
			}
		}
	}
	return w
}

func (c *client) get(target string) *httptest.ResponseRecorder {
	return c.do(http.MethodGet, target, nil)
}

func (c *client) post(target string, form url.Values) *httptest.ResponseRecorder {
	return c.do(http.MethodPost, target, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf returns the CSRF token of the page at target.
func (c *client) csrf(target string) string {
	c.t.Helper()
	w := c.get(target)
	require.Equal(c.t, http.StatusOK, w.Code, w.Body.String())
	m := csrfRE.FindStringSubmatch(w.Body.String())
	require.NotNil(c.t, m, "no CSRF token on %s", target)
	return m[1]
}

// requireNoSecret fails when a test secret appears in s.
func requireNoSecret(t testing.TB, where, s string) {
	t.Helper()
	for _, secret := range secrets {
		require.NotContains(t, s, secret, "a secret appears on %s", where)
	}
}
