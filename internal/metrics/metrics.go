// Package metrics owns Herald's Prometheus metrics: what the engine, the
// scheduler, the plugin supervisor and the HTTP API report, and the handler
// that exposes it at /metrics.
//
// Each Metrics has its own registry, never Prometheus's global default one,
// so two hosts embedded in one process keep apart. Labels only ever hold
// bounded values — workflow names, provider instances, actions, error
// classes, plugin types and HTTP route patterns — never run IDs, raw paths
// or error messages. The package observes; it never changes what it
// observes, and it imports nothing that runs work.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// namespace prefixes every metric name.
const namespace = "herald"

// Metrics holds the host's collectors and the registry that exposes them.
// Its methods are safe for concurrent use; a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	runsTotal      *prometheus.CounterVec
	runsInProgress *prometheus.GaugeVec
	runDuration    *prometheus.HistogramVec
	stepDuration   *prometheus.HistogramVec
	stepErrors     *prometheus.CounterVec
	rateWaits      *prometheus.CounterVec
	inDoubt        *prometheus.CounterVec
	reconciled     *prometheus.CounterVec
	needsAttention *prometheus.CounterVec
	rateWaitSecs   *prometheus.CounterVec
	rateEffective  *prometheus.GaugeVec
	schedulerLag   *prometheus.HistogramVec
	missedFires    *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	restarts       *restartCollector
	runsPruned     prometheus.Counter
	storeSize      prometheus.Gauge
	storeWait      *prometheus.HistogramVec

	// mu guards the run and step bookkeeping that keeps the in-progress
	// gauge balanced and for_each steps out of the step histogram.
	mu sync.Mutex
	// running holds the IDs of the runs counted in runs_in_progress.
	running map[string]struct{}
	// forEach holds the run and step of the for_each steps under way:
	// their elements are observed one by one, so the aggregate is not.
	forEach map[runStep]struct{}
}

// durationBuckets suit provider calls and runs: 5 ms to 5 min.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// lagBuckets suit the scheduler's lag, from 1 ms to 1 min.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// storeWaitBuckets suit a caller's wait on the store for one write, from
// 0.5 ms to 5 s, with bounds around 100 ms (the retention's target) fine
// enough to tell a slow fsync from a stall.
var storeWaitBuckets = []float64{.0005, .001, .002, .005, .01, .02, .035, .05, .075, .1, .15, .2, .3, .5, 1, 2, 5}

// httpBuckets suit API requests: 1 ms to 10 s.
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns Metrics with every Herald collector, plus the Go runtime and
// process collectors, registered on a registry of its own.
func New() *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		running: map[string]struct{}{},
		forEach: map[runStep]struct{}{},
		runsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "runs_total",
			Help: "Runs finished, by workflow and final status.",
		}, []string{"workflow", "status"}),
		runsInProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "runs_in_progress",
			Help: "Runs this host is executing now, by workflow.",
		}, []string{"workflow"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "run_duration_seconds",
			Help:    "Duration of finished runs from start to end, by workflow.",
			Buckets: durationBuckets,
		}, []string{"workflow"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "step_duration_seconds",
			Help:    "Duration of a step, or of one element of a for_each step, with its retries and fallbacks, by provider instance and action.",
			Buckets: durationBuckets,
		}, []string{"provider", "action"}),
		stepErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "step_errors_total",
			Help: "Failed attempts of provider calls, by provider instance, action and error class.",
		}, []string{"provider", "action", "class"}),
		inDoubt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "in_doubt_attempts_total",
			Help: "Attempts whose send may have reached the provider without an answer, by provider instance and action.",
		}, []string{"provider", "action"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "reconciled_total",
			Help: "Answers of reconcile handlers about in-doubt attempts (found, not_found, unknown), by provider instance and action.",
		}, []string{"provider", "action", "result"}),
		needsAttention: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "runs_needing_attention_total",
			Help: "Times a run stopped on an in-doubt send to wait for runs resolve, by workflow.",
		}, []string{"workflow"}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_waits_total",
			Help: "Calls that waited for a provider instance's rate limit.",
		}, []string{"provider"}),
		rateWaitSecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_wait_seconds_total",
			Help: "Time calls spent waiting for a provider instance's rate limit.",
		}, []string{"provider"}),
		rateEffective: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "rate_limit_effective_per_second",
			Help: "A rate-limited provider instance's current rate in calls per second: its limit, lowered after rate_limited answers (AIMD) while it climbs back.",
		}, []string{"provider"}),
		schedulerLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "scheduler_lag_seconds",
			Help:    "Delay between a cron fire's scheduled time and its firing, by workflow.",
			Buckets: lagBuckets,
		}, []string{"workflow"}),
		missedFires: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "scheduler_missed_fires_total",
			Help: "Cron fires that did not run, by workflow.",
		}, []string{"workflow"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP API requests, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Duration of HTTP API requests, by route pattern.",
			Buckets: httpBuckets,
		}, []string{"route"}),
		runsPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "runs_pruned_total",
			Help: "Finished runs deleted by the retention.",
		}),
		storeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "store_size_bytes",
			Help: "Size of the run store (SQLite: the database file and its WAL; PostgreSQL: the store's tables), as last measured by the retention.",
		}),
		storeWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_wait_seconds",
			Help:    "Time a caller waited on the store for one write, queueing for the writer and its commit included, by operation (create_run: a trigger's new run; prune_runs, vacuum, checkpoint: the retention's steps; SQLite's own steps: commit, each commit's WAL write and fsync; prune_tx, vacuum_tx, how long each retention transaction held the writer; checkpoint_pass, the background checkpointer's passes).",
			Buckets: storeWaitBuckets,
		}, []string{"op"}),
		restarts: &restartCollector{desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "", "plugin_restarts_total"),
			"Relaunches of provider plugins after a crash, by plugin type.",
			[]string{"plugin"}, nil,
		)},
	}
	m.reg.MustRegister(
		m.runsTotal, m.runsInProgress, m.runDuration,
		m.stepDuration, m.stepErrors, m.rateWaits, m.rateWaitSecs, m.rateEffective,
		m.inDoubt, m.reconciled, m.needsAttention,
		m.schedulerLag, m.missedFires,
		m.httpRequests, m.httpDuration,
		m.restarts, m.runsPruned, m.storeSize, m.storeWait,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, for embedders that add collectors of their
// own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Observe records an engine event. It is an engine.Observer:
//
//	engine.Options{Observer: m.Observe}
//
// RunStarted, and RunFinished or RunReleased, move herald_runs_in_progress
// (a run is counted once however often it is resumed) and RunFinished counts
// herald_runs_total and observes herald_run_duration_seconds. StepFinished
// and ItemFinished observe herald_step_duration_seconds, except for skipped
// steps, which made no call, and the aggregate of a for_each step, whose
// elements were observed one by one. AttemptFailed counts
// herald_step_errors_total (and, for class in_doubt,
// herald_in_doubt_attempts_total), Reconciled herald_reconciled_total by
// answer, a RunFinished in needs_attention herald_runs_needing_attention_total,
// and RateLimitWait the rate-limit waits.
func (m *Metrics) Observe(ev engine.Event) {
	if m == nil {
		return
	}
	switch ev.Type {
	case engine.RunStarted:
		m.mu.Lock()
		_, counted := m.running[ev.RunID]
		m.running[ev.RunID] = struct{}{}
		m.mu.Unlock()
		if !counted {
			m.runsInProgress.WithLabelValues(ev.Workflow).Inc()
		}
	case engine.RunReleased:
		m.stopped(ev)
	case engine.RunFinished:
		m.stopped(ev)
		m.runsTotal.WithLabelValues(ev.Workflow, ev.Status).Inc()
		if ev.Status == string(store.StatusNeedsAttention) {
			m.needsAttention.WithLabelValues(ev.Workflow).Inc()
		}
		if ev.Status != string(store.StatusSkipped) {
			m.runDuration.WithLabelValues(ev.Workflow).Observe(ev.Duration.Seconds())
		}
	case engine.StepStarted:
		if ev.Item == store.NoItem && ev.Items > 0 {
			m.mu.Lock()
			m.forEach[runStep{ev.RunID, ev.StepID}] = struct{}{}
			m.mu.Unlock()
		}
	case engine.StepFinished:
		key := runStep{ev.RunID, ev.StepID}
		m.mu.Lock()
		_, aggregate := m.forEach[key]
		delete(m.forEach, key)
		m.mu.Unlock()
		if !aggregate {
			m.observeStep(ev)
		}
	case engine.ItemFinished:
		m.observeStep(ev)
	case engine.AttemptFailed:
		m.stepErrors.WithLabelValues(ev.Provider, ev.Action, ev.Class).Inc()
		if ev.Class == "in_doubt" {
			m.inDoubt.WithLabelValues(ev.Provider, ev.Action).Inc()
		}
	case engine.Reconciled:
		m.reconciled.WithLabelValues(ev.Provider, ev.Action, ev.Status).Inc()
	case engine.RateLimitWait:
		m.rateWaits.WithLabelValues(ev.Provider).Inc()
		m.rateWaitSecs.WithLabelValues(ev.Provider).Add(ev.Duration.Seconds())
	case engine.RateLimitChanged:
		m.rateEffective.WithLabelValues(ev.Provider).Set(ev.Rate)
	}
}

// runStep names a step of a run.
type runStep struct{ run, step string }

// observeStep records the duration of a step or element that was called.
// stopped uncounts a run that no longer executes here from
// herald_runs_in_progress.
func (m *Metrics) stopped(ev engine.Event) {
	m.mu.Lock()
	_, counted := m.running[ev.RunID]
	delete(m.running, ev.RunID)
	m.mu.Unlock()
	if counted {
		m.runsInProgress.WithLabelValues(ev.Workflow).Dec()
	}
}

func (m *Metrics) observeStep(ev engine.Event) {
	if ev.Status == string(store.StatusSkipped) || ev.Provider == "" {
		return
	}
	m.stepDuration.WithLabelValues(ev.Provider, ev.Action).Observe(ev.Duration.Seconds())
}

// SchedulerLag records how late a cron fire of workflow fired. Leave
// catch-up fires out: they lag by the downtime they make up for.
func (m *Metrics) SchedulerLag(workflow string, lag time.Duration) {
	if m == nil {
		return
	}
	if lag < 0 {
		lag = 0
	}
	m.schedulerLag.WithLabelValues(workflow).Observe(lag.Seconds())
}

// MissedFire counts one cron fire of workflow that did not run.
func (m *Metrics) MissedFire(workflow string) { m.MissedFires(workflow, 1) }

// MissedFires counts n cron fires of workflow that did not run.
func (m *Metrics) MissedFires(workflow string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.missedFires.WithLabelValues(workflow).Add(float64(n))
}

// PluginRestarts makes herald_plugin_restarts_total read restarts at every
// scrape: it returns the relaunch count of each plugin type. A later call
// replaces the function; it must be quick and safe for concurrent use.
func (m *Metrics) PluginRestarts(restarts func() map[string]int) {
	if m == nil {
		return
	}
	m.restarts.set(restarts)
}

// RunsPruned counts runs the retention deleted.
func (m *Metrics) RunsPruned(n int64) {
	if m == nil {
		return
	}
	m.runsPruned.Add(float64(n))
}

// StoreSize records the store's size in bytes.
func (m *Metrics) StoreSize(bytes int64) {
	if m == nil {
		return
	}
	m.storeSize.Set(float64(bytes))
}

// StoreWait records how long a caller waited on the store for one write of
// op, in herald_store_wait_seconds. op is one of the store's fixed operation
// names, so the label stays bounded.
func (m *Metrics) StoreWait(op string, d time.Duration) {
	if m == nil {
		return
	}
	m.storeWait.WithLabelValues(op).Observe(d.Seconds())
}

// HTTPRequest records one HTTP API request. route is the pattern that
// matched (such as "POST /hooks/{path...}"), never the raw path, so the
// label stays bounded.
func (m *Metrics) HTTPRequest(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}
