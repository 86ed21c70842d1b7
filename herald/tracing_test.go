package herald_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// relay is an in-process provider whose send action posts its input with
// sdk.HTTP, and whose webhooks become relay.ping events.
type relay struct{ url string }

func (r relay) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "relay",
		Version: "1.0.0",
		Config:  sdk.Fields(sdk.String("token", "API token.").AsSensitive()),
		Events:  []sdk.EventSpec{{Name: "relay.ping", Description: "A ping."}},
		Actions: []sdk.Action{{
			Name:  "send",
			Input: sdk.Fields(sdk.String("text", "Any text.").AsRequired()),
			Run: func(ctx context.Context, call *sdk.Call) (any, error) {
				h := sdk.NewHTTP(10 * time.Second)
				_, err := h.Do(ctx, call, sdk.Request{Method: http.MethodPost, URL: r.url,
					Header: http.Header{"Authorization": {"Bearer " + call.Config.String("token")}},
					Body:   map[string]any{"text": call.Input["text"]}})
				return map[string]any{}, err
			},
		}},
	}
}

func (relay) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) ([]sdk.Event, error) {
	return []sdk.Event{{Type: "relay.ping", Data: req.Body}}, nil
}

const relayToken = "relay-T0KEN-e2f1"

// relayProject runs relay.send from a manual run (send), a relay.ping event
// (ping) and a webhook (hook).
const relayProject = `
provider "relay" {
  config = { token = "{{ secrets.RELAY_TOKEN }}" }
}
workflow "send" {
  step "post" {
    uses = "relay.send"
    with = { text = "{{ trigger.body.text }}" }
  }
}
workflow "ping" {
  trigger "event" {
    event    = "relay.ping"
    provider = "relay"
  }
  step "post" {
    uses = "relay.send"
    with = { text = "pong" }
  }
}
workflow "hook" {
  trigger "webhook" {
    path = "send"
  }
  step "post" {
    uses = "relay.send"
    with = { text = "{{ trigger.body.text }}" }
  }
}
`

// newRelayHerald opens a Herald on relayProject, its provider API at url,
// its spans going to tp; Close runs at the end of the test.
func newRelayHerald(tb testing.TB, url string, tp trace.TracerProvider) *herald.Herald {
	tb.Helper()
	h, err := herald.New(context.Background(), herald.Options{
		Files:          map[string][]byte{"relay.hcl": []byte(relayProject)},
		Providers:      []sdk.Provider{relay{url: url}},
		PluginPaths:    []string{},
		Secrets:        map[string]string{"RELAY_TOKEN": relayToken},
		TracerProvider: tp,
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// tracedHerald opens a Herald on the relay provider with a TracerProvider
// that records every span, and returns the traceparent headers the
// relay's provider API received.
func tracedHerald(t *testing.T) (*herald.Herald, *tracetest.SpanRecorder, trace.Tracer, func() []string) {
	t.Helper()
	var (
		mu      sync.Mutex
		parents []string
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(api.Close)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	h := newRelayHerald(t, api.URL, tp)
	return h, rec, tp.Tracer("test"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), parents...)
	}
}

func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func header(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
}

// TestTracerProviderOption: a run started with a context carrying the
// embedder's span is traced under it, and an in-process provider's request
// carries the traceparent of its plugin call.
func TestTracerProviderOption(t *testing.T) {
	t.Parallel()
	h, rec, tr, parents := tracedHerald(t)
	ctx, caller := tr.Start(context.Background(), "embedder")
	run, err := h.Run(ctx, "send", map[string]any{"text": "hi"})
	caller.End()
	require.NoError(t, err)
	require.Equal(t, herald.StatusSucceeded, run.Status)

	runs := spansNamed(rec, "run send")
	require.Len(t, runs, 1)
	require.Equal(t, caller.SpanContext().SpanID(), runs[0].Parent().SpanID())
	attempts := spansNamed(rec, "attempt post")
	require.Len(t, attempts, 1)
	require.Equal(t, runs[0].SpanContext().SpanID(), attempts[0].Parent().SpanID())
	calls := spansNamed(rec, "invoke relay.send")
	require.Len(t, calls, 1)
	require.Equal(t, attempts[0].SpanContext().SpanID(), calls[0].Parent().SpanID())
	require.Equal(t, []string{header(calls[0].SpanContext())}, parents())
}

// TestHandlerContinuesTheCallersTrace: a manual run through the API and a
// provider webhook each continue the traceparent of their request.
func TestHandlerContinuesTheCallersTrace(t *testing.T) {
	t.Parallel()
	h, rec, _, parents := tracedHerald(t)
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() { _ = h.Serve(ctx) }()
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)

	post := func(path, traceID string) []string {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader([]byte(`{"text":"hi"}`)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		var resp *http.Response
		// Serve may not have started yet: 503 until it has.
		require.Eventually(t, func() bool {
			resp, err = http.DefaultClient.Do(req.Clone(ctx))
			if err != nil {
				return false
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				resp.Body.Close()
				req.Body, _ = req.GetBody()
				return false
			}
			return true
		}, 30*time.Second, 20*time.Millisecond)
		defer resp.Body.Close()
		var out struct {
			RunID  string   `json:"run_id"`
			RunIDs []string `json:"run_ids"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		if out.RunID != "" {
			return []string{out.RunID}
		}
		return out.RunIDs
	}
	const manualTrace, hookTrace = "11111111111111111111111111111111", "22222222222222222222222222222222"
	manual := post("/api/v1/workflows/send/runs", manualTrace)
	hook := post("/providers/relay/webhook", hookTrace)
	require.Len(t, manual, 1)
	require.Len(t, hook, 1)
	for _, id := range append(manual, hook...) {
		run, err := h.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, herald.StatusSucceeded, run.Status)
	}

	servers := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			servers[s.SpanContext().TraceID().String()] = s
		}
	}
	require.Contains(t, servers, manualTrace)
	require.Contains(t, servers, hookTrace)
	for _, s := range servers {
		require.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
	}
	// Each run is a child of its request's span.
	for name, traceID := range map[string]string{"run send": manualTrace, "run ping": hookTrace} {
		runs := spansNamed(rec, name)
		require.Len(t, runs, 1, name)
		require.Equal(t, traceID, runs[0].SpanContext().TraceID().String(), name)
		require.Equal(t, servers[traceID].SpanContext().SpanID(), runs[0].Parent().SpanID(), name)
	}
	// The provider webhook's plugin call is a child of its request.
	calls := spansNamed(rec, "webhook relay")
	require.Len(t, calls, 1)
	require.Equal(t, servers[hookTrace].SpanContext().SpanID(), calls[0].Parent().SpanID())
	require.Len(t, parents(), 2)

	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			require.NotContains(t, kv.Value.Emit(), relayToken)
		}
	}
}
