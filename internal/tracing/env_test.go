package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/tracing"
)

// clearOTEL unsets every OTEL_* variable FromEnv or the exporters read, so
// the machine's environment does not leak into a case.
func clearOTEL(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME"} {
		t.Setenv(k, "")
	}
}

func TestFromEnvOff(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"nothing set":     {},
		"sdk disabled":    {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"exporter none":   {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"only a protocol": {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		t.Run(name, func(t *testing.T) {
			clearOTEL(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			tp, shutdown, err := tracing.FromEnv(context.Background(), "v1")
			require.NoError(t, err)
			require.Nil(t, tp)
			require.Nil(t, shutdown)
			require.Nil(t, tracing.Tracer(tp))
		})
	}
}

func TestFromEnvRefusesWhatItCannotHonour(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"console exporter": {"OTEL_TRACES_EXPORTER": "console"},
		"http/json":        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
	} {
		t.Run(name, func(t *testing.T) {
			clearOTEL(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, _, err := tracing.FromEnv(context.Background(), "v1")
			require.ErrorContains(t, err, "is not supported")
		})
	}
}

// TestFromEnvTracesSignalEndpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone
// turns tracing on, and spans reach it when the provider shuts down.
func TestFromEnvTracesSignalEndpoint(t *testing.T) {
	clearOTEL(t)
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/custom/traces" {
			posts.Add(1)
		}
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv.URL+"/custom/traces")
	tp, shutdown, err := tracing.FromEnv(context.Background(), "v1")
	require.NoError(t, err)
	require.NotNil(t, tp)
	_, span := tracing.StartCall(context.Background(), tracing.Tracer(tp), "invoke", "chatapi", "send_message")
	span.End()
	require.NoError(t, shutdown(context.Background()))
	require.EqualValues(t, 1, posts.Load())
}
