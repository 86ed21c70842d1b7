package tracing_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testbin"
	"github.com/heraldhq/herald/internal/tracing"
)

// token is the chatapi instance's secret: no span may carry it.
const token = "tr4ce-s3cret-T0KEN"

// chatAPI fakes Chat API's sendMessage: it records the traceparent header
// of every request and fails the first one with a 500 whose body echoes
// the token, as a careless gateway might.
type chatAPI struct {
	mu      sync.Mutex
	parents []string
	fail    int
}

func (c *chatAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.parents = append(c.parents, r.Header.Get("traceparent"))
	fail := len(c.parents) <= c.fail
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":"upstream down for token %s"}`, r.URL.Query().Get("token"))
		return
	}
	fmt.Fprint(w, `{"sent":true,"id":"true_1@c.us_A","message":"Sent to 14155550123@c.us"}`)
}

func (c *chatAPI) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.parents...)
}

// setup opens a host on the real chatapi plugin binary, pointed at api,
// recording spans in rec.
func setup(t *testing.T, api http.Handler, rec *tracetest.SpanRecorder) (*host.Host, trace.Tracer) {
	t.Helper()
	return setupOn(t, api, rec, "sqlite://"+filepath.Join(t.TempDir(), "herald.db"), "")
}

// setupOn is setup on the store dsn names, as the host owner.
func setupOn(t *testing.T, api http.Handler, rec *tracetest.SpanRecorder, dsn, owner string) (*host.Host, trace.Tracer) {
	t.Helper()
	bins := testbin.Build(t, "github.com/heraldhq/herald/plugins/chatapi")
	require.NoError(t, os.Rename(filepath.Join(bins, "chatapi"), filepath.Join(bins, "herald-provider-chatapi")))
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tracing.Tracer(tp)
	project := fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.CHATAPI_TOKEN }}", api_url = %q }
}
workflow "page" {
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "on call: {{ trigger.body.who }}" }
    retry {
      max_attempts     = 2
      initial_interval = "10ms"
    }
  }
}
`, srv.URL)
	h, err := host.Open(context.Background(), host.Options{
		Sources:     []config.Source{{Name: "page.hcl", Data: []byte(project)}},
		StoreDSN:    dsn,
		Owner:       owner,
		Secrets:     host.NewSecrets(map[string]string{"CHATAPI_TOKEN": token}),
		PluginPaths: []string{bins},
		Tracer:      tr,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h, tr
}

// createUnder creates a run of page under a server span named route, as
// the HTTP API does, and returns the run and the ended span.
func createUnder(t *testing.T, h *host.Host, tr trace.Tracer, route, kind, who string) (store.Run, trace.Span) {
	t.Helper()
	ctx, span := tr.Start(context.Background(), route, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	run, _, err := h.Engine.Create(ctx, "page", engine.Trigger{Kind: kind, Body: map[string]any{"who": who}}, "", 0)
	require.NoError(t, err)
	return run, span
}

// byName returns the ended spans named name, in the order they ended.
func byName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// traceparent is the header a request made under span sc carries.
func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
}

// TestSpanTreeAcrossThePluginBoundary runs a step through the real chatapi
// plugin binary: the run's span is a child of the request that created the
// run (through the trace context stored with it), each attempt a child of
// the run, each plugin call a child of its attempt, and the provider request
// the plugin sends carries a traceparent whose parent is that plugin call,
// carried over gRPC metadata into the plugin and by sdk.HTTP onto the wire.
func TestSpanTreeAcrossThePluginBoundary(t *testing.T) {
	t.Parallel()
	api := &chatAPI{fail: 1}
	rec := tracetest.NewSpanRecorder()
	h, tr := setup(t, api, rec)

	// The request that asks for the run, as the HTTP API's server span.
	run, reqSpan := createUnder(t, h, tr, "POST /hooks/{path...}", engine.KindWebhook, "ada")
	// A worker executes it later, on a context of its own.
	run, err := h.Engine.Execute(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)

	spans := rec.Ended()
	runs := byName(spans, "run page")
	require.Len(t, runs, 1)
	runSpan := runs[0]
	require.Equal(t, reqSpan.SpanContext().TraceID(), runSpan.SpanContext().TraceID(), "the run continues the request's trace")
	require.Equal(t, reqSpan.SpanContext().SpanID(), runSpan.Parent().SpanID())
	ra := attrs(runSpan)
	require.Equal(t, "page", ra["herald.workflow"])
	require.Equal(t, run.ID, ra["herald.run.id"])
	require.Equal(t, "webhook", ra["herald.trigger.kind"])
	require.Equal(t, "1", ra["herald.run.attempt"])
	require.Equal(t, "succeeded", ra["herald.status"])

	attempts := byName(spans, "attempt notify")
	require.Len(t, attempts, 2)
	calls := byName(spans, "invoke chatapi.send_message")
	require.Len(t, calls, 2)
	for i, a := range attempts {
		require.Equal(t, runSpan.SpanContext().SpanID(), a.Parent().SpanID(), "attempt %d is the run's child", i+1)
		aa := attrs(a)
		require.Equal(t, "notify", aa["herald.step"])
		require.Equal(t, "chatapi", aa["herald.provider"])
		require.Equal(t, "send_message", aa["herald.action"])
		require.Equal(t, fmt.Sprint(i+1), aa["herald.attempt"])
		require.NotContains(t, aa, "herald.item", "a step without for_each has no item")
		require.Equal(t, trace.SpanKindClient, calls[i].SpanKind())
		require.Equal(t, a.SpanContext().SpanID(), calls[i].Parent().SpanID(), "call %d is its attempt's child", i+1)
	}
	require.Equal(t, "retryable", attrs(attempts[0])["herald.outcome"])
	require.Equal(t, "retryable", attrs(attempts[0])["herald.error.class"])
	require.Equal(t, "succeeded", attrs(attempts[1])["herald.outcome"])
	// The failure's message is on the span, masked like the run history.
	require.Contains(t, attempts[0].Status().Description, "upstream down for token ***")
	require.Equal(t, "retryable", attrs(calls[0])["herald.error.class"])

	// Across the gRPC boundary and onto the provider's wire.
	require.Equal(t, []string{traceparent(calls[0].SpanContext()), traceparent(calls[1].SpanContext())}, api.received())

	requireNoSecret(t, spans, token)
}

// TestRetriedRunContinuesItsTrace executes a run twice, failing, then
// retried: both executions are spans of the trace of the request that
// created the run, as a run resumed by another host would be.
func TestRetriedRunContinuesItsTrace(t *testing.T) {
	t.Parallel()
	api := &chatAPI{fail: 2}
	rec := tracetest.NewSpanRecorder()
	h, tr := setup(t, api, rec)

	run, reqSpan := createUnder(t, h, tr, "POST /api/v1/workflows/{name}/runs", engine.KindManual, "bob")
	run, err := h.Engine.Execute(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, run.Status)
	_, err = h.Engine.Retry(context.Background(), run.ID, "", "test")
	require.NoError(t, err)
	run, err = h.Engine.Execute(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)

	runs := byName(rec.Ended(), "run page")
	require.Len(t, runs, 2)
	for i, s := range runs {
		require.Equal(t, reqSpan.SpanContext().TraceID(), s.SpanContext().TraceID())
		require.Equal(t, reqSpan.SpanContext().SpanID(), s.Parent().SpanID())
		require.Equal(t, fmt.Sprint(i+1), attrs(s)["herald.run.attempt"])
	}
	require.Equal(t, "failed", attrs(runs[0])["herald.status"])
	require.Equal(t, "succeeded", attrs(runs[1])["herald.status"])
	requireNoSecret(t, rec.Ended(), token)
}

// TestRunResumedByAnotherHostContinuesItsTrace: a run created on one host
// of a cluster (PostgreSQL), whose host died while executing it, is resumed
// by another host, in the trace of the request that created it.
func TestRunResumedByAnotherHostContinuesItsTrace(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	api := &chatAPI{}
	rec := tracetest.NewSpanRecorder()
	a, tr := setupOn(t, api, rec, dsn, "host-a")
	b, _ := setupOn(t, api, rec, dsn, "host-b")

	run, reqSpan := createUnder(t, a, tr, "POST /hooks/{path...}", engine.KindWebhook, "cy")
	// Host A took the run and died without releasing it.
	_, err := a.Store.UpdateRun(context.Background(), run.ID, func(r *store.Run) error {
		r.Status, r.Owner, r.Attempt = store.StatusRunning, "host-a", 1
		r.StartedAt, r.HeartbeatAt = time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)
		return nil
	})
	require.NoError(t, err)
	run, err = b.Engine.Execute(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)

	runs := byName(rec.Ended(), "run page")
	require.Len(t, runs, 1)
	require.Equal(t, reqSpan.SpanContext().TraceID(), runs[0].SpanContext().TraceID())
	require.Equal(t, reqSpan.SpanContext().SpanID(), runs[0].Parent().SpanID())
	require.Equal(t, "2", attrs(runs[0])["herald.run.attempt"])
	calls := byName(rec.Ended(), "invoke chatapi.send_message")
	require.Len(t, calls, 1)
	require.Equal(t, []string{traceparent(calls[0].SpanContext())}, api.received())
}

// requireNoSecret fails when any span's name, attribute, event, link or
// status holds secret.
func requireNoSecret(t *testing.T, spans []sdktrace.ReadOnlySpan, secret string) {
	t.Helper()
	require.NotEmpty(t, spans)
	for _, s := range spans {
		var b strings.Builder
		b.WriteString(s.Name() + "\n" + s.Status().Description + "\n")
		for _, kv := range s.Attributes() {
			b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
		}
		for _, ev := range s.Events() {
			b.WriteString(ev.Name + "\n")
			for _, kv := range ev.Attributes {
				b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
			}
		}
		require.NotContains(t, b.String(), secret, "span %q", s.Name())
	}
}
