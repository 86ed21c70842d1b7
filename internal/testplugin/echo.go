// Package testplugin is the Echo provider, a plugin that exists for tests of
// the plugin machinery: the host runtime launches it as a real process
// (herald-provider-echo), sdktest runs its conformance suite against it, and
// the benchmarks measure the invoke path with it. Each action exercises one
// behaviour the host must handle: a plain round trip, a slow call honouring
// cancellation, each error class, a plugin dying mid-call, per-process state
// that a relaunch resets, HTTP through sdk.HTTP, logging and webhooks.
//
// It must stay free of anything a real provider would not do through the
// sdk; it imports nothing from the engine.
package testplugin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Version is the version the Echo provider reports.
const Version = "1.0.0"

// EventReceived is the event type the Echo webhook emits.
const EventReceived = "echo.received"

// Echo is the test provider. Its zero value is not usable; call New.
type Echo struct {
	http *sdk.HTTP

	mu     sync.Mutex
	counts map[string]int64
}

var (
	_ sdk.Provider       = (*Echo)(nil)
	_ sdk.WebhookHandler = (*Echo)(nil)
	_ sdk.HealthChecker  = (*Echo)(nil)
)

// New returns an Echo provider.
func New() *Echo {
	return &Echo{http: sdk.NewHTTP(30 * time.Second), counts: map[string]int64{}}
}

// Spec declares the Echo provider.
func (e *Echo) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:        "echo",
		Version:     Version,
		Description: "Test provider: echoes inputs, sleeps, fails on demand and crashes.",
		Config: sdk.Fields(
			sdk.String("api_url", "Base URL of the echo API that send posts to.").Matching(`^https?://`),
			sdk.String("token", "API token, sent as ?token= by send.").AsSensitive(),
			sdk.String("webhook_token", "When set, webhooks must carry ?token= with this value.").AsSensitive(),
		),
		Actions: []sdk.Action{
			{
				Name:        "echo",
				Description: "Returns its input unchanged.",
				Input:       sdk.Schema{AdditionalFields: true},
				Output:      sdk.Schema{AdditionalFields: true},
				Run:         e.echo,
			},
			{
				Name:        "sleep",
				Description: "Waits for ms milliseconds or until the call is cancelled.",
				Input:       sdk.Fields(sdk.Integer("ms", "How long to sleep.").AsRequired()),
				Output:      sdk.Fields(sdk.Integer("slept_ms", "How long it slept.")),
				Run:         sleep,
			},
			{
				Name:        "fail",
				Description: "Fails with the error class the input selects.",
				Input: sdk.Fields(
					sdk.String("class", "Error class to fail with.").OneOf("retryable", "permanent", "rate_limited").AsRequired(),
					sdk.String("message", "Error message.").WithDefault("echo failed on purpose"),
					sdk.Integer("retry_after_ms", "Retry-After of a rate_limited error."),
					sdk.String("field", "Input field a permanent error points at."),
				),
				Output: sdk.Schema{},
				Run:    fail,
			},
			{
				Name:        "crash",
				Description: "Exits the plugin process mid-call, as a plugin dying would.",
				Input:       sdk.Fields(),
				Output:      sdk.Schema{},
				Run:         crash,
			},
			{
				Name:        "count",
				Description: "Increments and returns a counter kept per instance in the plugin process.",
				Input:       sdk.Fields(),
				Output:      sdk.Fields(sdk.Integer("count", "The counter after this call.").AsRequired(), sdk.Integer("pid", "The plugin's process id.")),
				Run:         e.count,
			},
			{
				Name:        "send",
				Description: "Posts a message to the echo API at api_url.",
				Input: sdk.Fields(
					sdk.String("message", "Message text.").AsRequired(),
					sdk.String("priority", "Message priority.").OneOf("low", "normal", "high").WithDefault("normal"),
				),
				Output: sdk.Fields(
					sdk.String("id", "Message id the API assigned.").AsRequired(),
					sdk.String("status", "Delivery status."),
				),
				Run:       e.send,
				Reconcile: e.reconcileSend,
			},
			{
				Name:        "log",
				Description: "Writes message to the host's log at level.",
				Input: sdk.Fields(
					sdk.String("level", "Log level.").OneOf("trace", "debug", "info", "warn", "error").AsRequired(),
					sdk.String("message", "Log message.").AsRequired(),
				),
				Output: sdk.Schema{},
				Run:    logAction,
			},
			{
				Name:        "environ",
				Description: "Returns the names of the plugin process's environment variables.",
				Input:       sdk.Fields(),
				Output:      sdk.Fields(sdk.Array("names", "Variable names, sorted.", sdk.String("", ""))),
				Run:         environ,
			},
		},
		Events: []sdk.EventSpec{{
			Name:        EventReceived,
			Description: "One element of a webhook's JSON array body, or the whole body when it is an object.",
		}},
	}
}

func (e *Echo) echo(_ context.Context, call *sdk.Call) (any, error) {
	return call.Input, nil
}

func sleep(ctx context.Context, call *sdk.Call) (any, error) {
	ms := sdk.Config(call.Input).Int("ms")
	call.Logger.Debug("sleeping", "ms", ms)
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return map[string]any{"slept_ms": ms}, nil
	case <-ctx.Done():
		return nil, sdk.Retryable(fmt.Errorf("sleep interrupted: %w", ctx.Err()))
	}
}

func fail(_ context.Context, call *sdk.Call) (any, error) {
	in := sdk.Config(call.Input)
	err := errors.New(in.String("message"))
	switch in.String("class") {
	case "permanent":
		if f := in.String("field"); f != "" {
			return nil, sdk.InvalidInput(f, "%s", err.Error())
		}
		return nil, sdk.Permanent(err)
	case "rate_limited":
		return nil, sdk.RateLimited(time.Duration(in.Int("retry_after_ms"))*time.Millisecond, err)
	default:
		return nil, sdk.Retryable(err)
	}
}

func crash(_ context.Context, call *sdk.Call) (any, error) {
	call.Logger.Error("crash requested; exiting")
	os.Exit(1)
	return nil, nil
}

func (e *Echo) count(_ context.Context, call *sdk.Call) (any, error) {
	e.mu.Lock()
	e.counts[call.Instance]++
	n := e.counts[call.Instance]
	e.mu.Unlock()
	return map[string]any{"count": n, "pid": os.Getpid()}, nil
}

func (e *Echo) send(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		Message  string `json:"message"`
		Priority string `json:"priority"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	base := call.Config.String("api_url")
	if base == "" {
		return nil, sdk.Permanent(errors.New("send needs api_url in the instance config"))
	}
	header := http.Header{}
	if call.IdempotencyKey != "" {
		header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	resp, err := e.http.Do(ctx, call, sdk.Request{
		Method:    http.MethodPost,
		URL:       strings.TrimRight(base, "/") + "/messages",
		Query:     url.Values{"token": {call.Config.String("token")}},
		Header:    header,
		Body:      map[string]any{"message": in.Message, "priority": in.Priority},
		MergeBody: true,
	})
	if err != nil {
		return nil, err
	}
	if resp.DryRun {
		return nil, nil
	}
	var out struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := resp.JSON(&out); err != nil {
		return nil, err
	}
	if out.Error != "" || out.ID == "" {
		return nil, sdk.Permanent(fmt.Errorf("echo API reported failure: %q", out.Error))
	}
	return map[string]any{"id": out.ID, "status": out.Status}, nil
}

// reconcileSend looks an in-doubt send up by its idempotency key.
func (e *Echo) reconcileSend(ctx context.Context, call *sdk.Call, _ time.Time) (sdk.Reconciliation, error) {
	base := call.Config.String("api_url")
	if base == "" {
		return sdk.Reconciliation{}, sdk.Permanent(errors.New("send needs api_url in the instance config"))
	}
	resp, err := e.http.Do(ctx, call, sdk.Request{
		Method: http.MethodGet,
		URL:    strings.TrimRight(base, "/") + "/messages",
		Query:  url.Values{"token": {call.Config.String("token")}, "idempotency_key": {call.IdempotencyKey}},
	})
	if err != nil {
		return sdk.Reconciliation{}, err
	}
	var out struct {
		Messages []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"messages"`
	}
	if err := resp.JSON(&out); err != nil {
		return sdk.Reconciliation{}, err
	}
	if len(out.Messages) == 0 {
		return sdk.Reconciliation{Status: sdk.ReconcileNotFound}, nil
	}
	m := out.Messages[0]
	return sdk.Reconciliation{Status: sdk.ReconcileFound, Output: map[string]any{"id": m.ID, "status": m.Status}, Detail: "message " + m.ID}, nil
}

func logAction(_ context.Context, call *sdk.Call) (any, error) {
	in := sdk.Config(call.Input)
	msg := in.String("message")
	switch in.String("level") {
	case "trace":
		call.Logger.Trace(msg)
	case "debug":
		call.Logger.Debug(msg)
	case "info":
		call.Logger.Info(msg)
	case "warn":
		call.Logger.Warn(msg)
	case "error":
		call.Logger.Error(msg)
	}
	return map[string]any{}, nil
}

func environ(context.Context, *sdk.Call) (any, error) {
	names := []any{}
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	return map[string]any{"names": names}, nil
}

// HandleWebhook turns a JSON body into echo.received events: one per element
// of an array, or one for an object. With webhook_token configured the
// request must carry ?token= with that value. The X-Echo-Delivery header, when
// present, becomes the id of a single event and the prefix of the ids of
// several.
func (e *Echo) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	if want := req.Config.String("webhook_token"); want != "" {
		got := req.Query.Get("token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, sdk.Unverified("wrong or missing token")
		}
	}
	var body any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("webhook body is not JSON: %w", err))
	}
	delivery := req.Header.Get("X-Echo-Delivery")
	items, isList := body.([]any)
	if !isList {
		return []sdk.Event{{Type: EventReceived, ID: delivery, Data: json.RawMessage(req.Body)}}, nil
	}
	events := make([]sdk.Event, 0, len(items))
	for i, item := range items {
		data, err := json.Marshal(item)
		if err != nil {
			return nil, sdk.Permanent(err)
		}
		id := ""
		if delivery != "" {
			id = fmt.Sprintf("%s-%d", delivery, i)
		}
		events = append(events, sdk.Event{Type: EventReceived, ID: id, Data: data})
	}
	return events, nil
}

// Health reports the provider healthy.
func (e *Echo) Health(context.Context) error { return nil }
