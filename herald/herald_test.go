package herald_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// testToken is the probe's sensitive config value; it must never show.
const testToken = "probe-token-8c1d4e"

// probe is an in-process provider for the tests: echo answers with its
// input, hold blocks until released, leak logs its token and fails with it.
// It counts the calls of each action.
type probe struct {
	mu      sync.Mutex
	calls   map[string]int
	entered chan string
	release chan struct{}
}

func newProbe() *probe {
	return &probe{calls: map[string]int{}, entered: make(chan string, 16), release: make(chan struct{})}
}

func (p *probe) count(action string) {
	p.mu.Lock()
	p.calls[action]++
	p.mu.Unlock()
}

// Calls returns how often action was called.
func (p *probe) Calls(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[action]
}

func (p *probe) Spec() *sdk.Spec {
	text := sdk.Fields(sdk.String("text", "Any text.").AsRequired())
	return &sdk.Spec{
		Type:    "probe",
		Version: "1.0.0",
		Config:  sdk.Fields(sdk.String("token", "API token.").AsSensitive()),
		Events:  []sdk.EventSpec{{Name: "probe.ping", Description: "A ping webhook."}},
		Actions: []sdk.Action{
			{Name: "echo", Input: text, Run: func(_ context.Context, call *sdk.Call) (any, error) {
				p.count("echo")
				return map[string]any{"text": call.Input["text"]}, nil
			}},
			{Name: "hold", Input: text, Run: func(ctx context.Context, call *sdk.Call) (any, error) {
				p.count("hold")
				p.entered <- call.Input["text"].(string)
				select {
				case <-p.release:
					return map[string]any{"text": call.Input["text"]}, nil
				case <-ctx.Done():
					return nil, sdk.Retryable(ctx.Err())
				}
			}},
			{Name: "leak", Input: text, Run: func(_ context.Context, call *sdk.Call) (any, error) {
				p.count("leak")
				tok := call.Config.String("token")
				call.Logger.Warn("calling with token " + tok)
				return nil, sdk.Permanent(fmt.Errorf("token %s was refused", tok))
			}},
		},
	}
}

// HandleWebhook turns every webhook into one probe.ping event carrying the
// body; X-Delivery is the delivery id.
func (p *probe) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if req.Header.Get("X-Probe-Token") != req.Config.String("token") {
		return nil, sdk.Unverified("wrong token")
	}
	return []sdk.Event{{Type: "probe.ping", ID: req.Header.Get("X-Delivery"), Data: req.Body}}, nil
}

// project is the test project: every workflow uses the probe.
const project = `
provider "probe" {
  config = { token = "{{ secrets.PROBE_TOKEN }}" }
}

workflow "echo" {
  step "first" {
    uses = "probe.echo"
    with = { text = "{{ trigger.body.text }}" }
  }
  step "second" {
    if   = "steps.first.output.text != 'skip'"
    uses = "probe.echo"
    with = { text = "again: {{ steps.first.output.text }}" }
  }
}

workflow "hold" {
  step "held" {
    uses = "probe.hold"
    with = { text = "{{ trigger.body.text }}" }
  }
  step "after" {
    uses = "probe.echo"
    with = { text = "after {{ steps.held.output.text }}" }
  }
}

workflow "single" {
  concurrency {
    limit    = 1
    on_limit = "skip"
  }
  step "held" {
    uses = "probe.hold"
    with = { text = "{{ trigger.body.text }}" }
  }
}

workflow "leak" {
  step "leaky" {
    uses = "probe.leak"
    with = { text = "x" }
  }
}

workflow "pinged" {
  trigger "event" {
    event    = "probe.ping"
    provider = "probe"
  }
  step "echo" {
    uses = "probe.echo"
    with = { text = "{{ trigger.event.msg }}" }
  }
}
`

type fixture struct {
	h     *herald.Herald
	probe *probe
	opts  herald.Options
}

// setup opens the test project from bytes with a fresh probe; mod may
// change the options first.
func setup(t *testing.T, mod ...func(*herald.Options)) *fixture {
	t.Helper()
	p := newProbe()
	opts := herald.Options{
		Files:       map[string][]byte{"project.hcl": []byte(project)},
		Providers:   []sdk.Provider{p},
		PluginPaths: []string{},
		Secrets:     map[string]string{"PROBE_TOKEN": testToken},
	}
	for _, m := range mod {
		m(&opts)
	}
	h, err := herald.New(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		close(p.release)
		require.NoError(t, h.Close())
	})
	return &fixture{h: h, probe: p, opts: opts}
}

// serve runs Serve until the test ends or stop is called, and returns
// once it takes triggers (/readyz answers 200), with a channel that
// receives Serve's result.
func (f *fixture) serve(t *testing.T) (done <-chan error, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	result := make(chan error, 1)
	go func() { result <- f.h.Serve(ctx) }()
	handler := f.h.Handler()
	require.Eventually(t, func() bool {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code == http.StatusOK
	}, 10*time.Second, time.Millisecond, "Serve did not become ready")
	return result, cancel
}

func (f *fixture) entered(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-f.probe.entered:
		require.Equal(t, want, got)
	case <-time.After(10 * time.Second):
		t.Fatalf("the probe's hold action was not called with %q", want)
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunRecordsEveryStep(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)

	run, err := f.h.Run(ctx, "echo", map[string]any{"text": "hi"})
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
	require.Equal(t, "echo", run.Workflow)
	require.False(t, run.StartedAt.IsZero())
	require.False(t, run.FinishedAt.IsZero())
	require.Len(t, run.Steps, 2)
	second, ok := run.Step("second")
	require.True(t, ok)
	require.JSONEq(t, `{"text":"again: hi"}`, string(second.Output))
	require.Equal(t, "probe", second.Provider)
	require.Equal(t, 1, second.Attempts)

	var trig map[string]any
	require.NoError(t, json.Unmarshal(run.Trigger, &trig))
	require.Equal(t, "manual", trig["kind"])
	require.Equal(t, map[string]any{"text": "hi"}, trig["body"])

	skipped, err := f.h.Run(ctx, "echo", json.RawMessage(`{"text":"skip"}`))
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, skipped.Status)
	step, _ := skipped.Step("second")
	require.Equal(t, herald.StatusSkipped, step.Status)

	got, err := f.h.Get(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, run, got)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.Contains(t, string(b), `"run_id":"`+run.ID+`"`)
	require.Contains(t, string(b), `"status":"succeeded"`)
}

func TestFailedRunIsAResultNotAnError(t *testing.T) {
	t.Parallel()
	f := setup(t)
	run, err := f.h.Run(ctxTimeout(t), "leak", nil)
	require.NoError(t, err)
	require.Equal(t, herald.StatusFailed, run.Status)
	step, _ := run.Step("leaky")
	require.Equal(t, "permanent", step.ErrorClass)
	require.Contains(t, step.Error, "token *** was refused")
	require.NotContains(t, run.Error, testToken)
}

func TestUnknownWorkflowAndRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	_, err := f.h.Run(ctx, "nope", nil)
	require.ErrorIs(t, err, herald.ErrUnknownWorkflow)
	_, err = f.h.Wait(ctx, "run_does_not_exist")
	require.ErrorIs(t, err, herald.ErrNotFound)
	require.Equal(t, []string{"echo", "hold", "leak", "pinged", "single"}, f.h.Workflows())
}

func TestWaitReturnsTheRunAsItStandsWhenCtxEnds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	id, err := f.h.Start(ctx, "hold", map[string]any{"text": "w"}, "")
	require.NoError(t, err)
	f.entered(t, "w")

	// A ctx that ended before the run could even be read, as a short
	// deadline on a loaded host does, still gets the run as it stands.
	ended, end := context.WithCancel(ctx)
	end()
	run, err := f.h.Wait(ended, id)
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, run)
	require.Equal(t, herald.StatusRunning, run.Status)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	run, err = f.h.Wait(short, id)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, id, run.ID)
	require.Equal(t, herald.StatusRunning, run.Status)

	f.probe.release <- struct{}{}
	run, err = f.h.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
}

// A run started before Serve executes at once on a goroutine of its own and
// finishes there: Serve, starting meanwhile, does not resume it too.
func TestRunsStartedBeforeServeFinishOnTheirOwn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	id, err := f.h.Start(ctx, "hold", map[string]any{"text": "before"}, "")
	require.NoError(t, err)
	f.entered(t, "before")

	f.serve(t)
	run, err := f.h.Run(ctx, "echo", map[string]any{"text": "served"})
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)

	f.probe.release <- struct{}{}
	run, err = f.h.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
	require.Equal(t, 1, run.Attempt, "the run was never resumed")
	require.Equal(t, 1, f.probe.Calls("hold"))
	require.Equal(t, 3, f.probe.Calls("echo"))
}

// While Serve runs, runs go through its dispatcher: a workflow's
// concurrency limit applies.
func TestServeAppliesConcurrencyLimits(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	f.serve(t)

	first, err := f.h.Start(ctx, "single", map[string]any{"text": "one"}, "")
	require.NoError(t, err)
	f.entered(t, "one")
	second, err := f.h.Run(ctx, "single", map[string]any{"text": "two"})
	require.NoError(t, err)
	require.Equal(t, herald.StatusSkipped, second.Status)
	require.Contains(t, second.Error, "concurrency limit")

	f.probe.release <- struct{}{}
	run, err := f.h.Wait(ctx, first)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
	require.Equal(t, 1, f.probe.Calls("hold"))
}

func TestIdempotencyKeyWhileServing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := ctxTimeout(t)
	f.serve(t)
	a, err := f.h.Start(ctx, "echo", map[string]any{"text": "k"}, "key-1")
	require.NoError(t, err)
	b, err := f.h.Start(ctx, "echo", map[string]any{"text": "k"}, "key-1")
	require.NoError(t, err)
	c, err := f.h.Start(ctx, "echo", map[string]any{"text": "k"}, "key-2")
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	for _, id := range []string{a, c} {
		run, err := f.h.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, herald.StatusSucceeded, run.Status)
	}
	require.Equal(t, 4, f.probe.Calls("echo"))
}

// Close interrupts a run between two steps; the next Herald on the same
// store resumes it from its last completed step when it serves.
func TestCloseInterruptsAndTheNextServeResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "project.hcl"), []byte(project), 0o600))
	ctx := ctxTimeout(t)
	p := newProbe()
	opts := herald.Options{Dir: dir, Providers: []sdk.Provider{p}, PluginPaths: []string{}, Secrets: map[string]string{"PROBE_TOKEN": testToken}}
	h, err := herald.New(ctx, opts)
	require.NoError(t, err)
	id, err := h.Start(ctx, "hold", map[string]any{"text": "closing"}, "")
	require.NoError(t, err)
	<-p.entered
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	// Once Start answers ErrClosed, Close has interrupted the run.
	require.Eventually(t, func() bool {
		_, err := h.Start(ctx, "no_such_workflow", nil, "")
		return errors.Is(err, herald.ErrClosed)
	}, 10*time.Second, time.Millisecond)
	p.release <- struct{}{}
	require.NoError(t, <-closed)
	require.FileExists(t, filepath.Join(dir, ".herald", "herald.db"))

	opts.Providers = []sdk.Provider{p}
	h2, err := herald.New(ctx, opts)
	require.NoError(t, err)
	defer h2.Close()
	run, err := h2.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusRunning, run.Status)
	held, _ := run.Step("held")
	require.Equal(t, herald.StatusSucceeded, held.Status)

	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h2.Serve(serveCtx) }()
	// Wait returns once the resumed run has ended, whenever Serve starts.
	run, err = h2.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)
	require.Equal(t, 1, p.Calls("hold"), "a step whose success was recorded is not sent again")
	require.Equal(t, 1, p.Calls("echo"))
	stop()
	require.NoError(t, <-done)
}

func TestServeOnceAndClosed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	done, stop := f.serve(t)
	require.ErrorContains(t, f.h.Serve(context.Background()), "once")
	stop()
	require.NoError(t, <-done)

	// After Serve, runs execute on goroutines again.
	run, err := f.h.Run(ctxTimeout(t), "echo", map[string]any{"text": "after"})
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)

	require.NoError(t, f.h.Close())
	require.NoError(t, f.h.Close())
	_, err = f.h.Start(ctxTimeout(t), "echo", nil, "")
	require.ErrorIs(t, err, herald.ErrClosed)
	require.ErrorIs(t, f.h.Serve(context.Background()), herald.ErrClosed)
	require.ErrorIs(t, f.h.Reload(context.Background()), herald.ErrClosed)
}

func TestHandlerTakesTriggersOnlyWhileServing(t *testing.T) {
	t.Parallel()
	f := setup(t, func(o *herald.Options) { o.APIToken = "api-token-5e6f7a" })
	srv := httptest.NewServer(f.h.Handler())
	t.Cleanup(srv.Close)
	post := func(path, body string, header map[string]string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not ready before Serve")

	auth := map[string]string{"Authorization": "Bearer api-token-5e6f7a"}
	resp, _ = post("/api/v1/workflows/echo/runs", `{"text":"api"}`, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	ctx := ctxTimeout(t)
	done, stop := f.serve(t)

	resp, body := post("/api/v1/workflows/echo/runs", `{"text":"api"}`, map[string]string{"Authorization": auth["Authorization"], "Idempotency-Key": "k1"})
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)
	var created struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	// The library and the API share idempotency keys.
	id, err := f.h.Start(ctx, "echo", map[string]any{"text": "api"}, "k1")
	require.NoError(t, err)
	require.Equal(t, created.RunID, id)
	run, err := f.h.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)

	resp, body = post("/providers/probe/webhook", `{"msg":"pong"}`, map[string]string{"X-Probe-Token": "wrong"})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	resp, body = post("/providers/probe/webhook", `{"msg":"pong"}`, map[string]string{"X-Probe-Token": testToken, "X-Delivery": "d1"})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var hooked struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &hooked))
	require.Len(t, hooked.RunIDs, 1)
	run, err = f.h.Wait(ctx, hooked.RunIDs[0])
	require.NoError(t, err)
	step, _ := run.Step("echo")
	require.JSONEq(t, `{"text":"pong"}`, string(step.Output))

	stop()
	require.NoError(t, <-done)
	resp, body = post("/hooks/none", `{}`, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
	resp, body = post("/api/v1/workflows/echo/runs", `{"text":"late"}`, auth)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

func TestSecretsAreMaskedInLogsAndEvents(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	var events []herald.Event
	var mu sync.Mutex
	f := setup(t, func(o *herald.Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &buf})
	})
	unsubscribe := f.h.Subscribe(func(ev herald.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	run, err := f.h.Run(ctxTimeout(t), "leak", nil)
	require.NoError(t, err)
	unsubscribe()
	_, err = f.h.Run(ctxTimeout(t), "echo", map[string]any{"text": "unheard"})
	require.NoError(t, err)

	require.Equal(t, herald.StatusFailed, run.Status)
	require.Contains(t, buf.String(), "calling with token ***")
	require.NotContains(t, buf.String(), testToken)
	mu.Lock()
	defer mu.Unlock()
	var failed bool
	for _, ev := range events {
		require.Equal(t, run.ID, ev.RunID, "no events after unsubscribe")
		require.NotContains(t, ev.Error, testToken)
		if ev.Type == herald.StepFinished {
			failed = true
			require.Equal(t, herald.StatusFailed, ev.Status)
			require.Contains(t, ev.Error, "token *** was refused")
		}
	}
	require.True(t, failed, "no step_finished event")
}

func TestSlogLogger(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	f := setup(t, func(o *herald.Options) {
		o.SlogLogger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: herald.LevelTrace}))
	})
	_, err := f.h.Run(ctxTimeout(t), "leak", nil)
	require.NoError(t, err)

	var sawPlugin, sawEngine bool
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		require.NotContains(t, line, testToken)
		switch {
		case rec["msg"] == "calling with token ***":
			sawPlugin = true
			require.Equal(t, "WARN", rec["level"])
			require.Equal(t, "provider.probe", rec["logger"], "named after the provider type once")
			require.Equal(t, "probe", rec["module"], "the instance")
		case rec["msg"] == "step finished": // logged before the run ends
			sawEngine = true
			require.Equal(t, "engine", rec["logger"])
			require.Equal(t, "failed", rec["status"])
		}
	}
	require.True(t, sawPlugin, "no provider log line in:\n%s", buf.String())
	require.True(t, sawEngine, "no engine log line in:\n%s", buf.String())
}

func TestOptionsAreChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := map[string][]byte{"p.hcl": []byte(project)}
	for name, tc := range map[string]struct {
		opts herald.Options
		want string
	}{
		"no project":     {herald.Options{}, "no project"},
		"two loggers":    {herald.Options{Files: files, Logger: hclog.NewNullLogger(), SlogLogger: slog.Default()}, "not both"},
		"two stores":     {herald.Options{Files: files, StoreDSN: "sqlite://x.db", Store: storeStub{}}, "not both"},
		"type twice":     {herald.Options{Files: files, Providers: []sdk.Provider{newProbe(), newProbe()}}, `"probe" twice`},
		"nil provider":   {herald.Options{Files: files, Providers: []sdk.Provider{nil}}, "nil provider"},
		"bad store dsn":  {herald.Options{Files: files, StoreDSN: "mysql://x", Providers: []sdk.Provider{newProbe()}, PluginPaths: []string{}}, "unsupported store dsn scheme"},
		"missing plugin": {herald.Options{Files: files, PluginPaths: []string{}}, "provider plugin not found"},
		"no directory":   {herald.Options{Dir: filepath.Join(t.TempDir(), "nope")}, "project directory"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := herald.New(ctx, tc.opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestValidateReportsMissingSecrets(t *testing.T) {
	t.Parallel()
	diags, err := herald.Validate(context.Background(), herald.Options{
		Files:       map[string][]byte{"project.hcl": []byte(project)},
		Providers:   []sdk.Provider{newProbe()},
		PluginPaths: []string{},
	})
	require.NoError(t, err)
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.String(), "PROBE_TOKEN")
	require.Equal(t, "project.hcl", diags[0].File)
	require.Equal(t, herald.SeverityError, diags[0].Severity)
	require.Positive(t, diags[0].Line)

	_, err = herald.New(context.Background(), herald.Options{
		Files:       map[string][]byte{"project.hcl": []byte(project)},
		Providers:   []sdk.Provider{newProbe()},
		PluginPaths: []string{},
	})
	var invalid *herald.InvalidProjectError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, diags, invalid.Diagnostics)
	require.ErrorContains(t, err, "invalid project: project.hcl:")
}

// A store passed in is shared and left open.
func TestSharedStore(t *testing.T) {
	t.Parallel()
	ctx := ctxTimeout(t)
	st, err := herald.OpenStore(ctx, "sqlite://"+filepath.Join(t.TempDir(), "shared.db"))
	require.NoError(t, err)
	defer st.Close()
	a := setup(t, func(o *herald.Options) { o.Store = st })
	b := setup(t, func(o *herald.Options) { o.Store = st })
	run, err := a.h.Run(ctx, "echo", map[string]any{"text": "shared"})
	require.NoError(t, err)
	got, err := b.h.Get(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, got.Status)

	// b waits for a run that a executes: it sees the end in the store.
	id, err := a.h.Start(ctx, "hold", map[string]any{"text": "elsewhere"}, "")
	require.NoError(t, err)
	a.entered(t, "elsewhere")
	waited := make(chan *herald.Run, 1)
	go func() {
		run, err := b.h.Wait(ctx, id)
		require.NoError(t, err)
		waited <- run
	}()
	a.probe.release <- struct{}{}
	require.Equal(t, herald.StatusSucceeded, (<-waited).Status)
	require.NoError(t, a.h.Close())
	require.NoError(t, st.Ping(ctx), "Close leaves a store it was given open")
}

// storeStub only fills Options.Store for option checks.
type storeStub struct{ herald.Store }

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
