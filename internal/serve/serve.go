package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/scheduler"
	"github.com/heraldhq/herald/internal/signallink"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/timers"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/sdk"
)

// Defaults of Options.
const (
	// DefaultWorkers is a single host's Workers; a replica of a cluster
	// (a postgres:// store) uses cluster.DefaultWorkers.
	DefaultWorkers        = 64
	DefaultQueueSize      = 10_000
	DefaultAdmitWait      = 5 * time.Second
	DefaultReloadInterval = time.Second
	DefaultShutdownGrace  = 30 * time.Second
	// CronKeyTTL keeps a cron fire's idempotency key long enough to cover
	// any catch-up window.
	CronKeyTTL = 30 * 24 * time.Hour
	// DeliveryKeyTTL keeps a provider delivery's key against replays.
	DeliveryKeyTTL = 7 * 24 * time.Hour
)

// Options configure a Server.
type Options struct {
	// Host opens the project, plugins and store.
	Host host.Options
	// Workers bounds the runs executing at once; zero is DefaultWorkers on a
	// single host and cluster.DefaultWorkers on a replica of a cluster.
	Workers int
	// QueueSize bounds the runs admitted but not finished; a trigger beyond
	// it waits up to AdmitWait, then gets ErrBusy.
	QueueSize int
	AdmitWait time.Duration
	// ReloadInterval is how often the project directory is checked for
	// changes; negative disables the check (Reload still works).
	ReloadInterval time.Duration
	// ShutdownGrace bounds how long Run waits for steps in flight when its
	// context ends.
	ShutdownGrace time.Duration
	// Observer receives every run and step transition, besides the logs.
	Observer engine.Observer
	// SchedulerObserver receives the scheduler's fire lag and missed fires.
	SchedulerObserver scheduler.Observer
	// Retention is how long finished runs are kept before the retention
	// deletes them (see package retention); zero keeps every run. `herald
	// serve` passes HERALD_RETENTION or --retention, default 30 days.
	Retention time.Duration
	// RetentionObserver receives the runs pruned and the store's size.
	RetentionObserver retention.Observer
	// RunSlice is how long a cluster host (a postgres:// store) executes a
	// run before it checkpoints and queues the run again, so that River
	// can tell a live run from one whose host died; zero reads
	// HERALD_RUN_SLICE, else uses cluster.DefaultSlice. A single host
	// ignores it.
	RunSlice time.Duration
	// PublicURL is where the host is reachable from outside (such as
	// https://herald.example.com): the signal links run.signal_url.<name>
	// start with it. Empty: no links (HERALD_PUBLIC_URL in herald serve).
	PublicURL string
	// WaitClock is the clock of the waits' timers; nil is the wall clock.
	WaitClock timers.Clock
	// WaitObserver, when set, receives the lag of each wait timer that
	// fires (now minus its deadline).
	WaitObserver func(lag time.Duration)
}

// Server is a running Herald host.
type Server struct {
	opts   Options
	host   *host.Host
	runner runner
	// cluster is the runner when the server is one replica of a cluster,
	// nil on a single host.
	cluster *clusterRunner
	scheds  schedulers
	logger  hclog.Logger
	files   fingerprint
	// events fans the engine's events out to Subscribe.
	events *hub
	// timers wake the runs parked on waits (see waits.go).
	timers *timers.Timers
	// links signs the signal links; nil without a PublicURL.
	links atomic.Pointer[signallink.Signer]
}

// New opens the project and prepares the server; Run starts it.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.AdmitWait <= 0 {
		opts.AdmitWait = DefaultAdmitWait
	}
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = DefaultReloadInterval
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Host.Owner == "" {
		name, _ := os.Hostname()
		opts.Host.Owner = fmt.Sprintf("%s/%d", name, os.Getpid())
	}
	events := &hub{}
	observer := opts.Observer
	opts.Host.Observer = func(ev engine.Event) {
		if observer != nil {
			observer(ev)
		}
		events.publish(ev)
	}
	logger := opts.Host.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
		opts.Host.Logger = logger
	}
	s := &Server{opts: opts, logger: logger, events: events}
	if opts.Host.Dir != "" {
		s.files, _ = readFingerprint(opts.Host.Dir)
	}
	s.newTimers(&opts)
	// A postgres:// store makes this host one replica of a cluster.
	cl, err := openCluster(ctx, s, &opts)
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	s.opts = opts
	h, err := host.Open(ctx, opts.Host)
	if err != nil {
		if cl != nil {
			cl.close()
		}
		return nil, err
	}
	s.host = h
	if err := s.openSignalLinks(); err != nil {
		s.Close()
		return nil, err
	}
	if cl != nil {
		s.runner, s.cluster = cl, cl
	} else {
		s.runner = &localRunner{
			disp:    newDispatcher(h.Engine, s.Project, logger.Named("dispatch"), opts.QueueSize),
			engine:  func() *engine.Engine { return h.Engine },
			store:   func() store.Store { return h.Store },
			workers: opts.Workers,
			wait:    opts.AdmitWait,
			logger:  logger,
		}
	}
	// A cluster replica replaces this scheduler with one of its own each
	// time it is elected leader; until then it answers NextFires.
	s.scheds.cur, err = s.newScheduler()
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Host returns the host the server runs.
func (s *Server) Host() *host.Host { return s.host }

// Project returns the project currently served.
func (s *Server) Project() *config.Project { return s.host.Engine.Project() }

// Store returns the run store.
func (s *Server) Store() store.Store { return s.host.Store }

// Run resumes unfinished runs, starts the workers, the scheduler and the
// reload watcher, and blocks until ctx ends. Then it stops taking triggers,
// lets steps in flight finish (their attempts are recorded) within
// ShutdownGrace, and returns; runs it did not finish stay in the store and
// resume on the next start, or on another replica of a cluster.
func (s *Server) Run(ctx context.Context) error {
	if err := s.runner.start(ctx); err != nil {
		s.runner.stop(s.opts.ShutdownGrace)
		return s.startErr(ctx, err)
	}
	if err := s.loadWaits(ctx); err != nil {
		s.runner.stop(s.opts.ShutdownGrace)
		return s.startErr(ctx, err)
	}
	timersDone := make(chan struct{})
	go func() { s.timers.Run(ctx); close(timersDone) }()
	defer func() { <-timersDone }()
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan error, 1)
	go func() { schedDone <- s.runScheduler(schedCtx) }()
	if s.opts.ReloadInterval > 0 && s.opts.Host.Dir != "" {
		go s.watch(ctx)
	}
	pruner := &retention.Pruner{Store: s.host.Store, Retention: s.opts.Retention,
		Logger: s.logger.Named("retention"), Observer: s.opts.RetentionObserver}
	go pruner.Run(ctx)
	s.logger.Info("herald is serving", "workflows", len(s.Project().Workflows), "workers", s.opts.Workers)

	<-ctx.Done()
	s.logger.Info("shutting down: no new triggers; waiting for steps in flight", "grace", s.opts.ShutdownGrace)
	stopSched()
	if err := <-schedDone; err != nil && !errors.Is(err, context.Canceled) {
		s.logger.Warn("scheduler stopped with an error", "error", err)
	}
	s.runner.stop(s.opts.ShutdownGrace)
	return nil
}

// startErr is what Run returns when starting failed with err: nothing when
// ctx ended first (told to stop while starting, as by a SIGTERM just after
// the server turned ready, it stops as it would later: nothing is lost, and
// the unfinished runs resume on the next start), err otherwise.
func (s *Server) startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		s.logger.Info("stopped while starting", "error", err)
		return nil
	}
	return err
}

// Close releases the plugins and the store.
func (s *Server) Close() error {
	var errs []error
	if s.host != nil {
		errs = append(errs, s.host.Close())
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.close())
	}
	return errors.Join(errs...)
}

// Trigger creates a run and hands it to the runner: the workers of this
// host, or the cluster's queue. It implements httpapi.Runtime.
func (s *Server) Trigger(ctx context.Context, workflow string, trig engine.Trigger, idemKey string, ttl time.Duration) (string, bool, error) {
	wf, ok := s.Project().Workflows[workflow]
	if !ok {
		return "", false, fmt.Errorf("%w %q", engine.ErrUnknownWorkflow, workflow)
	}
	run, existed, err := s.runner.submit(ctx, wf, creation{engine: s.host.Engine, workflow: workflow, trig: trig, idemKey: idemKey, ttl: ttl})
	return run.ID, existed, err
}

// fire is the scheduler's Fire: one cron fire becomes one run, guarded by the
// fire's idempotency key so a fire handed over twice runs once.
func (s *Server) fire(ctx context.Context, d scheduler.Due) error {
	trig := engine.Trigger{Kind: engine.KindCron, ScheduledTime: d.ScheduledTime, Catchup: d.Catchup}
	_, _, err := s.Trigger(ctx, d.Workflow, trig, d.IdempotencyKey(), CronKeyTTL)
	if errors.Is(err, engine.ErrUnknownWorkflow) {
		return nil // removed by a reload in the meantime
	}
	return err
}

// ProviderWebhook hands a provider webhook to its plugin and starts a run of
// every workflow whose event trigger matches an event it produced. It
// implements httpapi.Runtime.
func (s *Server) ProviderWebhook(ctx context.Context, instance string, req *sdk.WebhookRequest) ([]string, error) {
	p := s.Project()
	prov, ok := p.Providers[instance]
	if !ok {
		return nil, fmt.Errorf("%w %q", sdk.ErrUnknownInstance, instance)
	}
	client, err := s.host.Plugins.Client(ctx, prov.Type)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Instance = instance
	callCtx, span := tracing.StartCall(ctx, s.opts.Host.Tracer, "webhook", instance, "")
	events, err := client.HandleWebhook(callCtx, &r)
	tracing.EndCall(span, webhookErrorClass(err))
	if err != nil {
		return nil, err
	}
	// Delivery receipts land on the steps that sent their messages; the
	// events then go to triggers (and waits) like any other.
	if _, err := s.host.Engine.RecordReceipts(ctx, instance, events); err != nil {
		return nil, fmt.Errorf("record delivery receipts: %w", err)
	}
	ids := []string{}
	for _, ev := range events {
		data, err := engine.DecodeJSON(ev.Data)
		if err != nil {
			return ids, fmt.Errorf("event %s: %w", ev.Type, err)
		}
		if err := s.deliverToWaits(ctx, instance, ev.Type, ev.Data); err != nil {
			return ids, fmt.Errorf("event %s: %w", ev.Type, err)
		}
		for _, et := range p.EventTriggers(instance, ev.Type) {
			key := ""
			if ev.ID != "" {
				// The host's durable guard against replays, across restarts
				// and replicas; the plugin's own is in memory only.
				key = "event:" + instance + ":" + ev.ID + ":" + et.Workflow.Name
			}
			trig := engine.Trigger{Kind: engine.KindEvent, Event: data, EventType: ev.Type, Provider: instance}
			id, existed, err := s.Trigger(ctx, et.Workflow.Name, trig, key, DeliveryKeyTTL)
			if err != nil {
				return ids, err
			}
			if !existed {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// NextFires returns the next fire time of each trigger of workflow (zero
// for non-cron triggers). It implements httpapi.Runtime.
func (s *Server) NextFires(workflow string) []time.Time {
	wf, ok := s.Project().Workflows[workflow]
	if !ok {
		return nil
	}
	out := make([]time.Time, len(wf.Triggers))
	cron := 0 // TriggerKey numbers a workflow's cron triggers only
	for i, t := range wf.Triggers {
		if t.Type != config.TriggerCron {
			continue
		}
		key := scheduler.TriggerKey(cron, t)
		cron++
		if next, ok := s.scheds.current().NextFire(workflow, key); ok {
			out[i] = next
		} else {
			out[i] = scheduler.Next(t, time.Now())
		}
	}
	return out
}

// Ready reports whether the store is reachable and every provider plugin
// the project uses answers. It implements httpapi.Runtime.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.host.Store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	seen := map[string]bool{}
	for _, prov := range s.Project().Providers {
		if seen[prov.Type] {
			continue
		}
		seen[prov.Type] = true
		client, err := s.host.Plugins.Client(ctx, prov.Type)
		if err != nil {
			return fmt.Errorf("plugin %s: %w", prov.Type, err)
		}
		if err := client.Health(ctx); err != nil {
			return fmt.Errorf("plugin %s: %w", prov.Type, err)
		}
	}
	return nil
}

// webhookErrorClass is the class of a failed provider webhook call for its
// span: "unverified" for a request the plugin refused, "" for none.
func webhookErrorClass(err error) string {
	var uv *sdk.UnverifiedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &uv):
		return "unverified"
	}
	return string(sdk.AsError(err).Class)
}
