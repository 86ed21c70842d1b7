package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	f.rt.readyErr = errors.New("store down")
	w := f.do(t, "GET", "/healthz", nil)
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"status":"ok"}`, w.Body.String(), "liveness does not depend on readiness")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	w := f.do(t, "GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"status":"ready"}`, w.Body.String())

	f.rt.readyErr = errors.New("plugin chatapi: health check with token " + chatapiToken + " failed")
	w = f.do(t, "GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.JSONEq(t, `{"status":"unavailable","error":"plugin chatapi: health check with token *** failed"}`, w.Body.String())
	require.NotEmpty(t, w.Header().Get("Retry-After"))
}

// slowReady is a runtime whose readiness check waits for its context.
type slowReady struct{ *fakeRuntime }

func (s slowReady) Ready(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestReadyzIsBounded(t *testing.T) {
	t.Parallel()
	rt := slowReady{&fakeRuntime{project: loadProject(t)}}
	h := httpapi.New(rt, httpapi.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := httptestRequest(ctx, "GET", "/readyz")
	w := recorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, w.Body.String(), "deadline exceeded")
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	f := setup(t, apiToken)
	f.metrics.Observe(engine.Event{Type: engine.RunStarted, RunID: "r1", Workflow: "digest", Item: store.NoItem})
	f.metrics.Observe(engine.Event{Type: engine.StepFinished, RunID: "r1", Workflow: "digest", StepID: "notify", Item: store.NoItem, Provider: "chatapi", Status: "succeeded", Duration: time.Second})
	f.metrics.Observe(engine.Event{Type: engine.AttemptFailed, RunID: "r1", Workflow: "digest", Provider: "chatapi", Action: "send_message", Class: "retryable"})
	f.metrics.Observe(engine.Event{Type: engine.RateLimitWait, RunID: "r1", Workflow: "digest", Provider: "chatapi", Duration: time.Second})
	f.metrics.Observe(engine.Event{Type: engine.RunFinished, RunID: "r1", Workflow: "digest", Item: store.NoItem, Status: "succeeded"})
	f.metrics.SchedulerLag("digest", time.Millisecond)
	f.metrics.MissedFire("digest")
	f.metrics.PluginRestarts(func() map[string]int { return map[string]int{"chatapi": 2} })

	// Requests the middleware records under their route pattern.
	body := `{}`
	f.do(t, "POST", "/hooks/signed", strReader(body), signed(hookSecret, body)...)
	f.do(t, "POST", "/hooks/signed", strReader(body))
	f.do(t, "GET", "/api/v1/runs/some-run-id", nil, bearer()...)
	f.do(t, "GET", "/no/such/path", nil)

	w := f.do(t, "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, w.Code)
	text := w.Body.String()
	for _, want := range []string{
		`herald_runs_total{status="succeeded",workflow="digest"} 1`,
		`herald_runs_in_progress{workflow="digest"} 0`,
		`herald_step_duration_seconds_count{action="",provider="chatapi"} 1`,
		`herald_step_errors_total{action="send_message",class="retryable",provider="chatapi"} 1`,
		`herald_rate_limit_waits_total{provider="chatapi"} 1`,
		`herald_rate_limit_wait_seconds_total{provider="chatapi"} 1`,
		`herald_scheduler_lag_seconds_count{workflow="digest"} 1`,
		`herald_scheduler_missed_fires_total{workflow="digest"} 1`,
		`herald_plugin_restarts_total{plugin="chatapi"} 2`,
		`herald_http_requests_total{code="202",route="POST /hooks/{path...}"} 1`,
		`herald_http_requests_total{code="401",route="POST /hooks/{path...}"} 1`,
		`herald_http_requests_total{code="404",route="GET /api/v1/runs/{id}"} 1`,
		`herald_http_requests_total{code="404",route="unmatched"} 1`,
		`herald_http_request_duration_seconds_count{route="POST /hooks/{path...}"} 2`,
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "some-run-id", "raw paths never become labels")
	require.NotContains(t, text, "/no/such/path")
}

func TestMetricsDisabled(t *testing.T) {
	t.Parallel()
	h := httpapi.New(&fakeRuntime{project: loadProject(t)}, httpapi.Options{})
	w := serve(h, "GET", "/metrics", nil)
	require.Equal(t, "metrics are not enabled", errorOf(t, w, http.StatusNotFound))
	// Requests are still served without metrics.
	w = serve(h, "POST", "/hooks/team/open", strings.NewReader("{}"))
	require.Equal(t, http.StatusAccepted, w.Code)
}
