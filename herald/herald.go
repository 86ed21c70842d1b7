package herald

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/pluginhost"
	"github.com/heraldhq/herald/internal/serve"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// Herald is a loaded project wired to its providers and store: it runs
// workflows, reports their events, and, while Serve runs, fires cron
// triggers and serves the HTTP API. Its methods are safe for concurrent
// use.
type Herald struct {
	srv     *serve.Server
	plugins *pluginhost.Host
	store   *resumeStore
	// ownedStore is the store New opened, closed by Close.
	ownedStore store.Store
	tempDir    string
	logger     hclog.Logger
	events     *events
	metrics    *metrics.Metrics
	apiToken   string
	tracer     trace.Tracer

	// mu orders the transitions between executing runs on goroutines of
	// their own and handing them to the server: trigger holds it for
	// reading while it creates and hands over a run.
	mu    sync.RWMutex
	state state
	// served is set once Serve was called; it may be called once.
	served bool
	// serving is closed once Serve takes triggers.
	serving     chan struct{}
	serveCancel context.CancelFunc
	serveDone   chan struct{}
	// backgroundCtx ends the runs executing outside the server (on Close);
	// they stop between two steps and resume on the next Serve.
	backgroundCtx    context.Context
	backgroundCancel context.CancelFunc
	background       sync.WaitGroup
	// backgroundRuns holds the ids of the runs executing outside the
	// server, which Serve must not resume.
	backgroundMu   sync.Mutex
	backgroundRuns map[string]bool
}

// state is what executes the runs a Herald starts.
type state int

const (
	// stateIdle: no server runs; each run executes on a goroutine.
	stateIdle state = iota
	// stateServing: Serve runs; runs go to its dispatcher.
	stateServing
	stateClosed
)

// New loads and validates the project opts describes, registers the
// in-process providers, starts the plugins the project uses, configures
// every provider instance and opens the store. A project that does not
// validate is an *InvalidProjectError carrying its diagnostics.
//
// New starts no run and no schedule: Run and Start execute runs right away,
// and Serve adds the cron scheduler, the resumption of runs an earlier
// process left unfinished, and the worker pool the HTTP API feeds. Close
// releases everything.
func New(ctx context.Context, opts Options) (*Herald, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	secrets := host.NewSecrets(opts.Secrets)
	logger, masks := opts.logger(secrets.Values())
	h := &Herald{
		logger:         logger,
		events:         newEvents(),
		metrics:        metrics.New(),
		apiToken:       opts.APIToken,
		tracer:         opts.tracer(),
		serving:        make(chan struct{}),
		backgroundRuns: map[string]bool{},
	}
	h.backgroundCtx, h.backgroundCancel = context.WithCancel(context.Background())
	opened := false
	defer func() {
		if !opened {
			_ = h.release()
		}
	}()
	var err error
	if h.plugins, err = opts.pluginHost(logger); err != nil {
		return nil, err
	}
	var st store.Store
	if opts.Store != nil {
		st = bridge(opts.Store)
	} else {
		dsn, tempDir, err := opts.storeDSN()
		h.tempDir = tempDir
		if err != nil {
			return nil, err
		}
		if st, err = host.OpenStore(ctx, dsn); err != nil {
			return nil, fmt.Errorf("herald: open store: %w", err)
		}
		h.ownedStore = st
	}
	h.store = &resumeStore{Store: st, skip: h.inBackground}
	h.srv, err = serve.New(ctx, serve.Options{
		Host: host.Options{
			Dir:     opts.Dir,
			Sources: opts.sources(),
			Store:   withExtensions(h.store, st),
			Secrets: secrets,
			Plugins: h.plugins,
			Logger:  logger,
			Tracer:  h.tracer,
		},
		Workers:           opts.Workers,
		Observer:          h.observe,
		SchedulerObserver: h.metrics.Scheduler(),
		Retention:         opts.retention(),
		RetentionObserver: h.metrics,
	})
	if err != nil {
		var ip *host.InvalidProjectError
		if errors.As(err, &ip) {
			return nil, &InvalidProjectError{Diagnostics: diagnostics(ip.Diagnostics)}
		}
		return nil, fmt.Errorf("herald: %w", err)
	}
	project := func() *sdk.Masker { return h.engine().Masker() }
	masks.project.Store(&project)
	h.metrics.PluginRestarts(h.plugins.AllRestarts)
	opened = true
	return h, nil
}

// observe is the engine's Observer.
func (h *Herald) observe(ev engine.Event) {
	h.metrics.Observe(ev)
	h.events.observe(ev)
}

func (h *Herald) engine() *engine.Engine { return h.srv.Host().Engine }

// Workflows returns the names of the project's workflows, sorted.
func (h *Herald) Workflows() []string { return h.srv.Project().WorkflowNames() }

// Serve runs the long-running host until ctx ends: it resumes the runs an
// earlier process left unfinished, fires cron triggers (catching up on missed fires as each trigger's
// catchup says), executes runs on a bounded worker pool under each
// workflow's concurrency limit, and, for a project read from Dir, reloads
// it when its files change and the new version validates. Mount Handler to
// receive webhooks and API calls.
//
// When ctx ends, Serve stops taking triggers, lets steps in flight finish
// their attempt (up to 30 seconds), and returns; runs it did not finish stay
// in the store and resume on the next Serve, here or in another process.
// Runs that Run and Start began before Serve finish on their own
// goroutines, and do so again after Serve returns. Serve may be called
// once.
func (h *Herald) Serve(ctx context.Context) error {
	h.mu.Lock()
	switch {
	case h.state == stateClosed:
		h.mu.Unlock()
		return ErrClosed
	case h.served:
		h.mu.Unlock()
		return errors.New("herald: Serve may be called once")
	}
	h.served = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h.serveCancel, h.serveDone = cancel, make(chan struct{})
	defer close(h.serveDone)

	// Holding mu until the server has listed the runs it resumes keeps
	// every run either in that list, or executing on a goroutine of its own
	// (left out of the list), or handed to the server after it: none
	// executes twice.
	listed := h.store.expectList()
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Run(ctx) }()
	var err error
	select {
	case <-listed:
		h.state = stateServing
		close(h.serving)
		h.mu.Unlock()
		err = <-errc
	case err = <-errc:
		h.mu.Unlock()
	}

	h.mu.Lock()
	if h.state != stateClosed {
		h.state = stateIdle
	}
	h.mu.Unlock()
	// The server's workers are gone: no run executes here any more, so
	// waiters need not wait for events.
	h.events.stoppedAll()
	return err
}

// Reload loads the project again (Dir's files; Files do not change) and,
// when it validates, runs new and resumed runs against it; runs in flight
// finish with the version they started with. A project that does not
// validate changes nothing and is an *InvalidProjectError.
func (h *Herald) Reload(ctx context.Context) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.state == stateClosed {
		return ErrClosed
	}
	err := h.srv.Reload(ctx)
	var ip *host.InvalidProjectError
	if errors.As(err, &ip) {
		return &InvalidProjectError{Diagnostics: diagnostics(ip.Diagnostics)}
	}
	return err
}

// Close stops Serve if it runs, interrupts the runs executing on goroutines
// of their own between two steps (they resume on the next Serve), and
// releases the plugins and the store New opened. Calls after the first
// return nil.
func (h *Herald) Close() error {
	h.mu.Lock()
	if h.state == stateClosed {
		h.mu.Unlock()
		return nil
	}
	h.state = stateClosed
	serveCancel, serveDone := h.serveCancel, h.serveDone
	h.backgroundCancel()
	h.mu.Unlock()
	if serveCancel != nil {
		serveCancel()
		<-serveDone
	}
	h.background.Wait()
	h.events.stoppedAll()
	return h.release()
}

// release closes what New opened.
func (h *Herald) release() error {
	var errs []error
	if h.srv != nil {
		errs = append(errs, h.srv.Close())
	}
	if h.ownedStore != nil {
		errs = append(errs, h.ownedStore.Close())
	}
	if h.plugins != nil {
		errs = append(errs, h.plugins.Close())
	}
	if h.tempDir != "" {
		errs = append(errs, os.RemoveAll(h.tempDir))
	}
	h.backgroundCancel()
	return errors.Join(errs...)
}

// inBackground reports whether the run executes on a goroutine of its own.
func (h *Herald) inBackground(id string) bool {
	h.backgroundMu.Lock()
	defer h.backgroundMu.Unlock()
	return h.backgroundRuns[id]
}

// resumeStore leaves the runs executing on goroutines of their own out of
// the unfinished runs the server resumes, and tells Serve when the server
// has listed them.
type resumeStore struct {
	store.Store
	skip   func(runID string) bool
	mu     sync.Mutex
	listed chan struct{}
}

// expectList returns a channel closed after the next UnfinishedRuns call
// has returned.
func (s *resumeStore) expectList() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = make(chan struct{})
	return s.listed
}

func (s *resumeStore) UnfinishedRuns(ctx context.Context) ([]store.Run, error) {
	runs, err := s.Store.UnfinishedRuns(ctx)
	runs = slices.DeleteFunc(runs, func(r store.Run) bool { return s.skip(r.ID) })
	s.mu.Lock()
	if s.listed != nil {
		close(s.listed)
		s.listed = nil
	}
	s.mu.Unlock()
	return runs, err
}

// logger returns the logger the options select, masking secrets, and the
// masks it applies.
func (o *Options) logger(secrets []string) (hclog.Logger, *masks) {
	m := &masks{base: sdk.NewMasker(secrets...)}
	var l hclog.Logger
	switch {
	case o.Logger != nil:
		l = o.Logger
	case o.SlogLogger != nil:
		l = newSlogLogger(o.SlogLogger)
	default:
		return hclog.NewNullLogger(), m
	}
	return maskedLogger{Logger: l, m: m}, m
}

// pluginHost returns a plugin host searching the options' plugin paths,
// with the in-process providers registered.
func (o *Options) pluginHost(logger hclog.Logger) (*pluginhost.Host, error) {
	p := pluginhost.New(pluginhost.Options{Paths: o.PluginPaths, Logger: logger, LockDir: o.Dir})
	for _, prov := range o.Providers {
		if err := p.Register(prov.Spec().Type, prov); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("herald: register provider %s: %w", prov.Spec().Type, err)
		}
	}
	return p, nil
}
