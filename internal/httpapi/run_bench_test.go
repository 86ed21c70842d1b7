package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/pluginhost"
	heraldserve "github.com/heraldhq/herald/internal/serve"
	"github.com/heraldhq/herald/sdk"
)

// sandbox is an in-process provider with one action that answers at once,
// as the bench's sandbox provider does.
type sandbox struct{}

func (sandbox) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type: "sandbox", Version: "1.0.0",
		Actions: []sdk.Action{{
			Name:   "send",
			Input:  sdk.Fields(sdk.String("to", "Recipient.").AsRequired(), sdk.String("text", "Text.")),
			Output: sdk.Fields(sdk.String("id", "Message id.")),
			Run: func(_ context.Context, c *sdk.Call) (any, error) {
				return map[string]any{"id": "m-" + c.IdempotencyKey}, nil
			},
		}},
	}
}

const runBenchHCL = `
provider "sandbox" {}
workflow "accepted" {
  trigger "webhook" { path = "accepted" }
  when = "trigger.body.vip == true"
  step "send" {
    uses = "sandbox.send"
    with = { to = "{{ trigger.body.to }}", text = "{{ trigger.body.text }}" }
  }
}
workflow "output" {
  trigger "webhook" {
    path            = "output"
    respond         = "output"
    respond_timeout = "30s"
  }
  when = "trigger.body.vip == true"
  step "send" {
    uses = "sandbox.send"
    with = { to = "{{ trigger.body.to }}", text = "{{ trigger.body.text }}" }
  }
}
`

// cpuTime is this process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hostForTest is a whole host in this process, assembled as `herald serve`
// assembles it (serve.Server, the API with metrics, no tracing), serving
// runBenchHCL with the in-process sandbox provider and a SQLite store.
type hostForTest struct {
	handler http.Handler
	// finished counts the runs that ended.
	finished *atomic.Int64
}

func startHost(tb testing.TB) *hostForTest {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	plugins := pluginhost.New(pluginhost.Options{Paths: []string{}})
	tb.Cleanup(func() { _ = plugins.Close() })
	if err := plugins.Register("sandbox", sandbox{}); err != nil {
		tb.Fatal(err)
	}
	m := metrics.New()
	finished := &atomic.Int64{}
	srv, err := heraldserve.New(ctx, heraldserve.Options{
		Host: host.Options{
			Sources:  []config.Source{{Name: "bench.hcl", Data: []byte(runBenchHCL)}},
			StoreDSN: "sqlite://" + filepath.Join(tb.TempDir(), "herald.db"),
			Plugins:  plugins,
		},
		ReloadInterval: -1,
		Observer: func(ev engine.Event) {
			m.Observe(ev)
			if ev.Type == engine.RunFinished {
				finished.Add(1)
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	h := httpapi.New(srv, httpapi.Options{Metrics: m, Masker: func() *sdk.Masker { return srv.Host().Engine.Masker() }})
	return &hostForTest{handler: h, finished: finished}
}

// post sends body to path and returns the recorded answer.
func (h *hostForTest) post(path string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, r)
	return w
}

// TestOutputAnswerIsTheRunObjectOfGET checks, on a whole host, that the
// respond = "output" answer (built from what the engine wrote) is the run
// object GET /api/v1/runs/{id} reads from the store: for a run that
// succeeded and for one skipped by when.
func TestOutputAnswerIsTheRunObjectOfGET(t *testing.T) {
	h := startHost(t)
	for _, body := range []string{
		`{"vip":true,"to":"14155550123","text":"disk almost full on db-1"}`,
		`{"vip":false}`,
	} {
		w := h.post("/hooks/output", []byte(body))
		require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
		v := decode[engine.RunView](t, w)
		got := serve(h.handler, "GET", "/api/v1/runs/"+v.RunID, nil)
		require.Equal(t, http.StatusOK, got.Code)
		require.Equal(t, got.Body.String(), w.Body.String())
	}
}

// BenchmarkWebhookToRun measures the whole host in one process (startHost):
// a webhook through the API handler to a run of a one-step workflow,
// executed by the engine against an in-process provider and recorded in
// SQLite, 16 requests at a time. respond=accepted answers 202 at admission
// (the benchmark waits for every run to finish before it stops the clock);
// respond=output answers 200 with the run object once the run has
// finished. cpu-µs/op is the process's rusage per webhook, the store's
// writer and the engine included.
func BenchmarkWebhookToRun(b *testing.B) {
	for _, respond := range []string{"accepted", "output"} {
		b.Run(respond, func(b *testing.B) {
			h := startHost(b)
			want := http.StatusAccepted
			if respond == "output" {
				want = http.StatusOK
			}
			body := []byte(`{"vip":true,"to":"14155550123","text":"disk almost full on db-1"}`)
			post := func() {
				if w := h.post("/hooks/"+respond, body); w.Code != want {
					b.Errorf("status %d: %s", w.Code, w.Body)
				}
			}
			// Warm up: the store's caches, the plugin's connection.
			for range 50 {
				post()
			}
			for h.finished.Load() < 50 {
				time.Sleep(time.Millisecond)
			}
			start, cpu0 := h.finished.Load(), cpuTime(b)
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					post()
				}
			})
			for h.finished.Load() < start+int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			// The goroutine stacks in use at the end: the dispatcher's
			// workers' among them.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.StackInuse)/1024, "stack-KiB")
		})
	}
}
