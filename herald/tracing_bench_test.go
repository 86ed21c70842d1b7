package herald_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkWebhookToSend measures the hot path a webhook takes, from the
// request to the provider receiving the send: the API's handler, the run's
// creation in SQLite, the dispatcher, the engine's records and the
// in-process provider's HTTP request. "off" has a no-op tracer provider
// (what `herald serve` runs without OTEL_* settings); "on" records every
// span and exports it over OTLP/HTTP to a receiver on loopback, with a
// traceparent on each webhook.
func BenchmarkWebhookToSend(b *testing.B) {
	sent := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
		sent <- struct{}{}
	}))
	defer api.Close()
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()

	for _, bc := range []struct {
		name string
		tp   func(b *testing.B) trace.TracerProvider
	}{
		{"off", func(*testing.B) trace.TracerProvider { return noop.NewTracerProvider() }},
		{"on", func(b *testing.B) trace.TracerProvider {
			exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
			if err != nil {
				b.Fatal(err)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return tp
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newRelayHerald(b, api.URL, bc.tp(b))
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			go func() { _ = h.Serve(ctx) }()
			handler := h.Handler()
			body := []byte(`{"text":"disk almost full on db-1"}`)
			post := func() int {
				r := httptest.NewRequest(http.MethodPost, "/hooks/send", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				w := httptest.NewRecorder()
				handler.ServeHTTP(w, r)
				return w.Code
			}
			// Wait until Serve takes triggers.
			deadline := time.Now().Add(30 * time.Second)
			for post() != http.StatusAccepted {
				if time.Now().After(deadline) {
					b.Fatal("Serve did not start taking webhooks")
				}
				time.Sleep(10 * time.Millisecond)
			}
			<-sent
			b.ReportAllocs()
			for b.Loop() {
				if code := post(); code != http.StatusAccepted {
					b.Fatalf("webhook: %d", code)
				}
				<-sent
			}
		})
	}
}
