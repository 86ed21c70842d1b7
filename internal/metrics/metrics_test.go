package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/store"
)

// value returns the value of the sample of family name whose labels are
// exactly labels (counter, gauge, or a histogram's sample count), and
// whether there is one.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !sameLabels(s.GetLabel(), labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue(), true
			case s.Gauge != nil:
				return s.Gauge.GetValue(), true
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if want[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}

func requireValue(t *testing.T, m *metrics.Metrics, want float64, name string, labels map[string]string) {
	t.Helper()
	got, ok := value(t, m, name, labels)
	require.True(t, ok, "no sample %s%v", name, labels)
	require.Equal(t, want, got, "%s%v", name, labels)
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func run(id string) engine.Event {
	return engine.Event{RunID: id, Workflow: "digest", Item: store.NoItem}
}

func TestRunsInProgressAndTotal(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	started := func(id string) { ev := run(id); ev.Type = engine.RunStarted; m.Observe(ev) }
	finished := func(id, status string) {
		ev := run(id)
		ev.Type, ev.Status, ev.Duration = engine.RunFinished, status, 2*time.Second
		m.Observe(ev)
	}
	inProgress := map[string]string{"workflow": "digest"}

	started("r1")
	started("r2")
	started("r2") // resumed in the same process: still one run
	requireValue(t, m, 2, "herald_runs_in_progress", inProgress)

	finished("r1", "succeeded")
	finished("r2", "failed")
	requireValue(t, m, 0, "herald_runs_in_progress", inProgress)
	requireValue(t, m, 1, "herald_runs_total", map[string]string{"workflow": "digest", "status": "succeeded"})
	requireValue(t, m, 1, "herald_runs_total", map[string]string{"workflow": "digest", "status": "failed"})
	requireValue(t, m, 2, "herald_run_duration_seconds", map[string]string{"workflow": "digest"})

	// A run that ends without having started here (a workflow removed by a
	// reload, a skipped run) counts, but never drives the gauge below zero.
	finished("r3", "skipped")
	requireValue(t, m, 0, "herald_runs_in_progress", inProgress)
	requireValue(t, m, 1, "herald_runs_total", map[string]string{"workflow": "digest", "status": "skipped"})
	requireValue(t, m, 2, "herald_run_duration_seconds", map[string]string{"workflow": "digest"})
}

// TestReleasedRunLeavesTheGauge releases a run another writer ended before
// this process took it: it leaves herald_runs_in_progress, and is not
// counted as a run this process finished.
func TestReleasedRunLeavesTheGauge(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ev := run("r1")
	ev.Type = engine.RunStarted
	m.Observe(ev)
	ev.Type, ev.Status = engine.RunReleased, "canceled"
	m.Observe(ev)
	requireValue(t, m, 0, "herald_runs_in_progress", map[string]string{"workflow": "digest"})
	_, counted := value(t, m, "herald_runs_total", map[string]string{"workflow": "digest", "status": "canceled"})
	require.False(t, counted, "herald_runs_total counts the runs this process ended")
	m.Observe(ev) // a second release lowers nothing
	requireValue(t, m, 0, "herald_runs_in_progress", map[string]string{"workflow": "digest"})
}

func TestStepDurations(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ev := func(typ engine.EventType, step string, item int, mod func(*engine.Event)) {
		e := engine.Event{Type: typ, RunID: "r1", Workflow: "digest", StepID: step, Item: item, Provider: "chatapi", Action: "send_message", Status: "succeeded", Duration: 150 * time.Millisecond}
		if mod != nil {
			mod(&e)
		}
		m.Observe(e)
	}
	// A plain step.
	ev(engine.StepStarted, "notify", store.NoItem, nil)
	ev(engine.StepFinished, "notify", store.NoItem, nil)
	// A for_each step of three elements: the elements are observed, the
	// aggregate is not.
	ev(engine.StepStarted, "each", store.NoItem, func(e *engine.Event) { e.Items = 3 })
	for i := range 3 {
		ev(engine.ItemFinished, "each", i, nil)
	}
	ev(engine.StepFinished, "each", store.NoItem, func(e *engine.Event) { e.Duration = time.Minute })
	// A skipped step made no call.
	ev(engine.StepFinished, "maybe", store.NoItem, func(e *engine.Event) { e.Status = "skipped" })
	requireValue(t, m, 4, "herald_step_duration_seconds", map[string]string{"provider": "chatapi", "action": "send_message"})

	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "herald_step_duration_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			require.InDelta(t, 0.6, h.GetSampleSum(), 1e-9, "the one-minute aggregate must not be observed")
		}
	}
}

func TestErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	fail := engine.Event{Type: engine.AttemptFailed, RunID: "r1", Workflow: "digest", StepID: "notify", Provider: "chatapi", Action: "send_message", Class: "retryable"}
	m.Observe(fail)
	m.Observe(fail)
	fail.Class = "rate_limited"
	m.Observe(fail)
	wait := engine.Event{Type: engine.RateLimitWait, RunID: "r1", Workflow: "digest", Provider: "chatapi", Duration: 250 * time.Millisecond}
	m.Observe(wait)
	m.Observe(wait)

	requireValue(t, m, 2, "herald_step_errors_total", map[string]string{"provider": "chatapi", "action": "send_message", "class": "retryable"})
	requireValue(t, m, 1, "herald_step_errors_total", map[string]string{"provider": "chatapi", "action": "send_message", "class": "rate_limited"})
	requireValue(t, m, 2, "herald_rate_limit_waits_total", map[string]string{"provider": "chatapi"})
	requireValue(t, m, 0.5, "herald_rate_limit_wait_seconds_total", map[string]string{"provider": "chatapi"})

	m.Observe(engine.Event{Type: engine.RateLimitChanged, Provider: "chatapi", Item: store.NoItem, Rate: 100})
	requireValue(t, m, 100, "herald_rate_limit_effective_per_second", map[string]string{"provider": "chatapi"})
	m.Observe(engine.Event{Type: engine.RateLimitChanged, Provider: "chatapi", Item: store.NoItem, Rate: 150})
	requireValue(t, m, 150, "herald_rate_limit_effective_per_second", map[string]string{"provider": "chatapi"})
}

func TestInDoubtSends(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ev := engine.Event{Type: engine.AttemptFailed, RunID: "r1", Workflow: "digest", StepID: "notify", Provider: "chatapi", Action: "send_message", Class: "in_doubt"}
	m.Observe(ev)
	m.Observe(ev)
	ev.Type, ev.Class = engine.Reconciled, ""
	for _, answer := range []string{"found", "not_found", "found"} {
		ev.Status = answer
		m.Observe(ev)
	}
	m.Observe(engine.Event{Type: engine.RunStarted, RunID: "r1", Workflow: "digest", Item: store.NoItem})
	m.Observe(engine.Event{Type: engine.RunFinished, RunID: "r1", Workflow: "digest", Item: store.NoItem, Status: "needs_attention"})

	requireValue(t, m, 2, "herald_in_doubt_attempts_total", map[string]string{"provider": "chatapi", "action": "send_message"})
	requireValue(t, m, 2, "herald_reconciled_total", map[string]string{"provider": "chatapi", "action": "send_message", "result": "found"})
	requireValue(t, m, 1, "herald_reconciled_total", map[string]string{"provider": "chatapi", "action": "send_message", "result": "not_found"})
	requireValue(t, m, 1, "herald_runs_needing_attention_total", map[string]string{"workflow": "digest"})
	requireValue(t, m, 0, "herald_runs_in_progress", map[string]string{"workflow": "digest"})
}

func TestSchedulerAndHTTP(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SchedulerLag("digest", 3*time.Millisecond)
	m.SchedulerLag("digest", -time.Second) // clock skew counts as no lag
	m.MissedFire("digest")
	m.MissedFires("digest", 2)
	m.MissedFires("digest", 0)
	m.HTTPRequest("POST /hooks/{path...}", 202, 5*time.Millisecond)
	m.HTTPRequest("POST /hooks/{path...}", 401, time.Millisecond)

	requireValue(t, m, 2, "herald_scheduler_lag_seconds", map[string]string{"workflow": "digest"})
	requireValue(t, m, 3, "herald_scheduler_missed_fires_total", map[string]string{"workflow": "digest"})
	requireValue(t, m, 1, "herald_http_requests_total", map[string]string{"route": "POST /hooks/{path...}", "code": "202"})
	requireValue(t, m, 1, "herald_http_requests_total", map[string]string{"route": "POST /hooks/{path...}", "code": "401"})
	requireValue(t, m, 2, "herald_http_request_duration_seconds", map[string]string{"route": "POST /hooks/{path...}"})

	// The lag histogram resolves a millisecond.
	text := scrape(t, m)
	require.Contains(t, text, `herald_scheduler_lag_seconds_bucket{workflow="digest",le="0.001"} 1`)
	require.Contains(t, text, `herald_scheduler_lag_seconds_bucket{workflow="digest",le="0.005"} 2`)
}

func TestPluginRestartsReadAtScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	_, ok := value(t, m, "herald_plugin_restarts_total", map[string]string{"plugin": "chatapi"})
	require.False(t, ok, "no samples before a source is set")

	var mu sync.Mutex
	counts := map[string]int{"chatapi": 1}
	m.PluginRestarts(func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range counts {
			out[k] = v
		}
		return out
	})
	requireValue(t, m, 1, "herald_plugin_restarts_total", map[string]string{"plugin": "chatapi"})
	mu.Lock()
	counts["chatapi"], counts["chatwoot"] = 3, 1
	mu.Unlock()
	requireValue(t, m, 3, "herald_plugin_restarts_total", map[string]string{"plugin": "chatapi"})
	requireValue(t, m, 1, "herald_plugin_restarts_total", map[string]string{"plugin": "chatwoot"})
}

func TestExposition(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Observe(engine.Event{Type: engine.RunStarted, RunID: "r1", Workflow: "digest", Item: store.NoItem})
	m.Observe(engine.Event{Type: engine.StepFinished, RunID: "r1", Workflow: "digest", StepID: "s", Item: store.NoItem, Provider: "chatapi", Status: "succeeded"})
	m.Observe(engine.Event{Type: engine.AttemptFailed, RunID: "r1", Workflow: "digest", Provider: "chatapi", Action: "send_message", Class: "permanent"})
	m.Observe(engine.Event{Type: engine.RateLimitWait, RunID: "r1", Workflow: "digest", Provider: "chatapi", Duration: time.Second})
	m.Observe(engine.Event{Type: engine.RunFinished, RunID: "r1", Workflow: "digest", Item: store.NoItem, Status: "succeeded"})
	m.SchedulerLag("digest", time.Millisecond)
	m.MissedFire("digest")
	m.PluginRestarts(func() map[string]int { return map[string]int{"chatapi": 0} })
	m.HTTPRequest("GET /healthz", 200, time.Millisecond)

	text := scrape(t, m)
	for _, name := range []string{
		"herald_runs_total", "herald_runs_in_progress", "herald_run_duration_seconds",
		"herald_step_duration_seconds", "herald_step_errors_total",
		"herald_rate_limit_waits_total", "herald_rate_limit_wait_seconds_total",
		"herald_scheduler_lag_seconds", "herald_scheduler_missed_fires_total",
		"herald_plugin_restarts_total",
		"herald_http_requests_total", "herald_http_request_duration_seconds",
		"go_goroutines",
	} {
		require.Contains(t, text, "# TYPE "+name+" ", name)
	}
	// Run IDs never become labels.
	require.False(t, strings.Contains(text, "r1"), "run id leaked into a label")
}

func TestInstancesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(), metrics.New()
	a.MissedFire("digest")
	requireValue(t, a, 1, "herald_scheduler_missed_fires_total", map[string]string{"workflow": "digest"})
	_, ok := value(t, b, "herald_scheduler_missed_fires_total", map[string]string{"workflow": "digest"})
	require.False(t, ok)
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	require.NotPanics(t, func() {
		m.Observe(engine.Event{Type: engine.RunStarted})
		m.SchedulerLag("w", time.Second)
		m.MissedFire("w")
		m.PluginRestarts(func() map[string]int { return nil })
		m.HTTPRequest("GET /healthz", 200, time.Second)
	})
}

func TestObserveIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := string(rune('a' + i))
			for range 100 {
				m.Observe(engine.Event{Type: engine.RunStarted, RunID: id, Workflow: "digest", Item: store.NoItem})
				m.Observe(engine.Event{Type: engine.StepStarted, RunID: id, Workflow: "digest", StepID: "each", Item: store.NoItem, Items: 2})
				m.Observe(engine.Event{Type: engine.StepFinished, RunID: id, Workflow: "digest", StepID: "each", Item: store.NoItem, Provider: "chatapi"})
				m.Observe(engine.Event{Type: engine.RunFinished, RunID: id, Workflow: "digest", Item: store.NoItem, Status: "succeeded"})
			}
		})
	}
	wg.Wait()
	requireValue(t, m, 0, "herald_runs_in_progress", map[string]string{"workflow": "digest"})
	requireValue(t, m, 800, "herald_runs_total", map[string]string{"workflow": "digest", "status": "succeeded"})
}

// Store waits are counted by operation, with a bucket at 100 ms, the
// retention's bound, so a wait over it is told apart exactly.
func TestStoreWaits(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.StoreWait("create_run", 3*time.Millisecond)
	m.StoreWait("create_run", 120*time.Millisecond)
	m.StoreWait("prune_runs", 9*time.Millisecond)

	requireValue(t, m, 2, "herald_store_wait_seconds", map[string]string{"op": "create_run"})
	requireValue(t, m, 1, "herald_store_wait_seconds", map[string]string{"op": "prune_runs"})
	text := scrape(t, m)
	require.Contains(t, text, `herald_store_wait_seconds_bucket{op="create_run",le="0.1"} 1`)
	require.Contains(t, text, `herald_store_wait_seconds_bucket{op="create_run",le="0.15"} 2`)
}
