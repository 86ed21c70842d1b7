package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/sdk"
)

// ErrNotFound is wrapped by the error for a provider type that is neither
// registered nor found on the plugin search path.
var ErrNotFound = errors.New("provider plugin not found")

// ErrClosed is returned by a Host after Close.
var ErrClosed = errors.New("plugin host is closed")

// Options configures a Host.
type Options struct {
	// Paths are the directories searched for herald-provider-<type>
	// executables, in order; nil means DefaultPaths().
	Paths []string
	// Logger receives the host's and the plugins' logs; plugins log as
	// provider.<type>. Nil discards logs.
	Logger hclog.Logger
	// LockDir is the project directory whose herald.lock.json, when present,
	// pins the plugin binaries; empty disables the lock.
	LockDir string
	// StartTimeout is how long a plugin process has to complete go-plugin's
	// handshake after it is started, and again to describe itself. A plugin
	// that misses it is killed with its whole process group and reported.
	// Zero means $HERALD_PLUGIN_START_TIMEOUT (a Go duration such as "10s"),
	// else DefaultStartTimeout.
	StartTimeout time.Duration
}

// StartTimeoutEnv names the environment variable that sets the plugin
// handshake deadline when Options.StartTimeout is zero.
const StartTimeoutEnv = "HERALD_PLUGIN_START_TIMEOUT"

// DefaultStartTimeout is the plugin handshake deadline by default.
const DefaultStartTimeout = 10 * time.Second

// Host runs the provider plugins of one Herald process. Its methods are safe
// for concurrent use.
type Host struct {
	opts        Options
	logger      hclog.Logger
	paths       []string
	reattachEnv string

	// Supervision tuning: relaunch delays start at minBackoff, double up to
	// maxBackoff and start over once a process has run for stableUptime.
	minBackoff, maxBackoff, stableUptime time.Duration
	// pollInterval is how often a supervisor checks that its process lives.
	pollInterval time.Duration
	startTimeout time.Duration

	// ctx ends when the host closes, giving up launches under way.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	providers map[string]*provider
	runDir    string
	closed    bool
	wg        sync.WaitGroup
}

// New returns a Host. Plugins are launched on first use, not here.
func New(opts Options) *Host {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	paths := opts.Paths
	if paths == nil {
		paths = DefaultPaths()
	}
	startTimeout := opts.StartTimeout
	if startTimeout <= 0 {
		startTimeout = DefaultStartTimeout
		if v := os.Getenv(StartTimeoutEnv); v != "" {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				startTimeout = d
			} else {
				logger.Warn("ignoring invalid "+StartTimeoutEnv+": want a positive duration such as 10s", "value", v, "using", DefaultStartTimeout)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{
		ctx:          ctx,
		cancel:       cancel,
		opts:         opts,
		logger:       logger,
		paths:        paths,
		reattachEnv:  os.Getenv(sdk.ReattachEnv),
		minBackoff:   100 * time.Millisecond,
		maxBackoff:   10 * time.Second,
		stableUptime: time.Minute,
		pollInterval: 100 * time.Millisecond,
		startTimeout: startTimeout,
		providers:    map[string]*provider{},
	}
}

func (h *Host) provider(typ string) (*provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	p, ok := h.providers[typ]
	if !ok {
		p = &provider{h: h, typ: typ, attempted: make(chan struct{}), instances: map[string]json.RawMessage{}, done: make(chan struct{})}
		h.providers[typ] = p
	}
	return p, nil
}

// Register serves p in-process as provider type typ, through sdk.NewServer:
// callers get the same sdk.Client as for a plugin process. It fails when typ
// is already registered or its plugin already launched.
func (h *Host) Register(typ string, p sdk.Provider) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if old, ok := h.providers[typ]; ok {
		old.mu.Lock()
		busy := old.inproc != nil || old.started
		old.mu.Unlock()
		if busy {
			return fmt.Errorf("provider %s is already registered or launched", typ)
		}
	}
	h.providers[typ] = &provider{
		h: h, typ: typ, attempted: make(chan struct{}), instances: map[string]json.RawMessage{}, done: make(chan struct{}),
		inproc: sdk.NewServer(p, inprocLogger{h.logger.Named("provider." + typ)}),
	}
	return nil
}

// Client returns the client of provider typ, launching its plugin on first
// use. The client survives plugin restarts: calls in flight when the plugin
// dies fail (an invoke as in_doubt, since the plugin may have sent it, other
// calls as retryable), later calls go to the relaunched plugin. It is an
// sdk.Reconciler.
func (h *Host) Client(ctx context.Context, typ string) (sdk.Client, error) {
	p, err := h.provider(typ)
	if err != nil {
		return nil, err
	}
	if p.inproc != nil {
		return p.inproc, nil
	}
	if err := p.ensureStarted(ctx); err != nil {
		return nil, err
	}
	return &supervisedClient{p: p}, nil
}

// Spec returns provider typ's declaration, as described when its plugin
// launched.
func (h *Host) Spec(ctx context.Context, typ string) (*sdk.Spec, error) {
	spec, _, err := h.describe(ctx, typ)
	return spec, err
}

func (h *Host) describe(ctx context.Context, typ string) (*sdk.Spec, int, error) {
	p, err := h.provider(typ)
	if err != nil {
		return nil, 0, err
	}
	if p.inproc != nil {
		spec, err := p.inproc.Describe(ctx)
		return spec, sdk.ProtocolVersion, err
	}
	if err := p.ensureStarted(ctx); err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	protocol := sdk.ProtocolVersion
	if p.cur != nil {
		protocol = p.cur.protocol
	}
	return p.spec, protocol, nil
}

// Configure creates or replaces an instance of provider typ. The host
// remembers it and configures it again on a relaunched plugin.
func (h *Host) Configure(ctx context.Context, typ, instance string, config json.RawMessage) error {
	c, err := h.Client(ctx, typ)
	if err != nil {
		return err
	}
	return c.Configure(ctx, instance, config)
}

// Restarts returns how many times the plugin of typ has been relaunched.
func (h *Host) Restarts(typ string) int {
	h.mu.Lock()
	p := h.providers[typ]
	h.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Pid returns the process id of the running plugin of typ, or 0 when none
// runs (not launched yet, down, or registered in-process).
func (h *Host) Pid(typ string) int {
	h.mu.Lock()
	p := h.providers[typ]
	h.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.pid
}

// Close kills every plugin process and waits for them to exit. Calls after
// Close fail with ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	// Give up launches under way: their processes are killed at once.
	h.cancel()
	providers := make([]*provider, 0, len(h.providers))
	for _, p := range h.providers {
		providers = append(providers, p)
	}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range providers {
		p.mu.Lock()
		p.closed = true
		cur := p.cur
		p.cur = nil
		close(p.done)
		p.mu.Unlock()
		if cur != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cur.kill()
			}()
		}
	}
	wg.Wait()
	h.wg.Wait()
	// A first launch still under way sees the host closed and kills its
	// process; wait for it.
	for _, p := range providers {
		p.startMu.Lock()
		p.startMu.Unlock()
	}
	h.mu.Lock()
	runDir := h.runDir
	h.mu.Unlock()
	if runDir != "" {
		return os.RemoveAll(runDir)
	}
	return nil
}
