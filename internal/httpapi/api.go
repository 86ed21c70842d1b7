package httpapi

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/signallink"
	"github.com/heraldhq/herald/sdk"
)

// Limits and defaults of the API.
const (
	// DefaultMaxBody caps request bodies unless Options.MaxBody says
	// otherwise.
	DefaultMaxBody int64 = 1 << 20
	// IdempotencyTTL is how long an Idempotency-Key guards a trigger.
	IdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKeyLen is the longest Idempotency-Key header, in bytes.
	MaxIdempotencyKeyLen = 255
	// DefaultRunsLimit is how many runs GET /api/v1/runs returns unless
	// limit says otherwise, and MaxRunsLimit the most it returns.
	DefaultRunsLimit = 50
	MaxRunsLimit     = 500
	// ReadyTimeout bounds the Runtime's readiness check.
	ReadyTimeout = 5 * time.Second
)

// Options configures the handler New returns. The zero value serves an
// API without a token, metrics or masking.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// /api/*. It is HERALD_API_TOKEN.
	Token string
	// Logger receives request and error logs; nil logs nothing.
	Logger hclog.Logger
	// Metrics, when set, records every request and is served at /metrics.
	Metrics *metrics.Metrics
	// Masker returns the masker of the project served now; every error
	// text passes through it. Nil masks nothing.
	Masker func() *sdk.Masker
	// Now is the clock of trigger times; time.Now when nil.
	Now func() time.Time
	// Done, when closed, ends the event streams, so a server's shutdown
	// does not wait for their clients; nil streams until each client goes.
	Done <-chan struct{}
	// MaxBody caps request bodies in bytes; DefaultMaxBody when zero or
	// less.
	MaxBody int64
	// Tracer, when set, starts a server span for each request that may
	// start runs (webhooks, provider webhooks, manual runs), continuing the
	// trace of its traceparent header; the runs it starts continue that
	// trace. Nil traces nothing and reads no traceparent.
	Tracer trace.Tracer
	// SignalLinks, when set, serves the signed acknowledge links
	// (run.signal_url.<name>) at /signal/{token}, without the token.
	SignalLinks *signallink.Signer
}

// api is the state the handlers share.
type api struct {
	rt   Runtime
	opts Options
	log  hclog.Logger
	// tokenSum is the SHA-256 of Options.Token, so the comparison with a
	// presented token runs in constant time whatever their lengths.
	tokenSum [sha256.Size]byte
	metrics  http.Handler
	// storeHealth tracks store outages, to log their start and end once.
	storeHealth storeHealth
	// waiters are the requests waiting for their runs to finish.
	waiters runWaiters
}

// New returns the handler of the whole API, serving rt with opts.
func New(rt Runtime, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	a := &api{rt: rt, opts: opts, log: opts.Logger, tokenSum: sha256.Sum256([]byte(opts.Token))}
	a.waiters.subscribe = rt.Subscribe
	if opts.Metrics != nil {
		a.metrics = opts.Metrics.Handler()
	}

	r := newRouter(a)
	r.handleFast(&hookRoute, public, a.traced(hookRoute.pattern, a.hook))
	r.handle("POST", "/providers/{instance}/webhook", public, a.traced("POST /providers/{instance}/webhook", a.providerWebhook))
	r.handle("GET", "/api/v1/workflows", private, a.listWorkflows)
	r.handle("GET", "/api/v1/workflows/{name}", private, a.getWorkflow)
	r.handleFast(&runsRoute, private, a.traced(runsRoute.pattern, a.createRun))
	r.handle("GET", "/api/v1/runs", private, a.listRuns)
	r.handle("GET", "/api/v1/runs/{id}", private, a.getRun)
	r.handle("POST", "/api/v1/runs/{id}/retry", private, a.retryRun)
	r.handle("POST", "/api/v1/runs/{id}/cancel", private, a.cancelRun)
	r.handle("POST", "/api/v1/runs/{id}/resolve", private, a.resolveRun)
	r.handle("POST", "/api/v1/runs/{id}/signals/{name}", private, a.signalRun)
	r.handle("GET", "/api/v1/runs/{id}/events", private, a.runEvents)
	r.handle("GET", "/api/v1/events", private, a.allEvents)
	r.handle("GET", "/healthz", public, a.healthz)
	r.handle("GET", "/readyz", public, a.readyz)
	r.handle("GET", "/metrics", public, a.serveMetrics)
	if opts.SignalLinks != nil {
		links := newSignalLinks(a, opts.SignalLinks)
		r.handle("GET", signallink.PathPrefix+"{token}", public, links.get)
		r.handle("POST", signallink.PathPrefix+"{token}", public, links.post)
	}
	return r.finish()
}

// access says whether a route needs the API token.
type access bool

const (
	public  access = false
	private access = true
)

// router builds the ServeMux: each route under its method pattern, plus a
// method-less pattern per path that answers 405, and 404 for the rest, all
// with JSON bodies and instrumented under their pattern. It serves the fast
// routes (see fastRoute) before the mux.
type router struct {
	a       *api
	mux     *http.ServeMux
	methods map[string][]string
	access  map[string]access
	paths   []string
	fast    []fastHandler
	// patterns are the mux's patterns, in the order registered.
	patterns []string
}

func newRouter(a *api) *router {
	return &router{a: a, mux: http.NewServeMux(), methods: map[string][]string{}, access: map[string]access{}}
}

// handle serves method path with h, behind the token check when acc is
// private.
func (r *router) handle(method, path string, acc access, h http.HandlerFunc) {
	if _, ok := r.methods[path]; !ok {
		r.paths = append(r.paths, path)
	}
	r.methods[path] = append(r.methods[path], method)
	r.access[path] = acc
	pattern := method + " " + path
	r.register(pattern, r.wrap(pattern, acc, h))
}

// register serves pattern with h on the mux.
func (r *router) register(pattern string, h http.Handler) {
	r.patterns = append(r.patterns, pattern)
	r.mux.Handle(pattern, h)
}

// handleFast serves route with h, as handle does, and also before the mux
// for the requests route matches.
func (r *router) handleFast(route *fastRoute, acc access, h http.HandlerFunc) {
	r.handle(route.method, strings.TrimPrefix(route.pattern, route.method+" "), acc, h)
	r.fast = append(r.fast, fastHandler{route: route, h: r.wrap(route.pattern, acc, h)})
}

// ServeHTTP serves req by a fast route when one matches it, else by the
// mux.
func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.serveFast(w, req) {
		r.mux.ServeHTTP(w, req)
	}
}

// wrap adds the token check and instrumentation of route.
func (r *router) wrap(route string, acc access, h http.Handler) http.Handler {
	if acc == private {
		h = r.a.requireToken(h)
	}
	return r.a.instrument(route, h)
}

// finish registers the 405 and 404 fallbacks and returns the router.
func (r *router) finish() http.Handler {
	for _, path := range r.paths {
		allow := r.methods[path]
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		r.register(path, r.wrap(path, r.access[path], r.a.methodNotAllowed(strings.Join(allow, ", "))))
	}
	// Unknown paths under /api/ ask for the token first, so they reveal
	// nothing to a client without one.
	r.register("/api/", r.wrap(routeUnmatched, private, http.HandlerFunc(r.a.notFound)))
	r.register("/", r.wrap(routeUnmatched, public, http.HandlerFunc(r.a.notFound)))
	return r
}

// routeUnmatched is the metrics route label of requests no pattern serves.
const routeUnmatched = "unmatched"

func (a *api) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		a.fail(w, http.StatusMethodNotAllowed, "method %s is not allowed on %s; use %s", r.Method, r.URL.Path, allow)
	}
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	a.fail(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
}

// mask returns s with the served project's secrets masked.
func (a *api) mask(s string) string {
	if a.opts.Masker == nil {
		return s
	}
	return a.opts.Masker().String(s)
}

// now returns the time of a trigger, in UTC.
func (a *api) now() time.Time { return a.opts.Now().UTC() }
