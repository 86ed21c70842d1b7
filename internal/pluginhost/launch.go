package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/sdk"
)

// passEnv lists the only host environment variables a plugin inherits: what
// it needs to find programs, certificates and an outbound proxy, and the Go
// runtime's garbage collector settings (GOGC, GOMEMLIMIT), which then
// replace the SDK's own for the plugin as they do the host's. Everything
// else, secrets above all, stays in the host.
var passEnv = []string{
	"PATH", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GOGC", "GOMEMLIMIT",
	sdk.CPUProfileEnv,
}

// proc is one running plugin process (or a reattached one).
type proc struct {
	client   *plugin.Client
	rpc      sdk.Client
	spec     *sdk.Spec
	pid      int
	protocol int
	started  time.Time
	// sockDir is the private directory of the process's socket and temp
	// files; empty for a reattached plugin.
	sockDir string
	// group runs the process in a process group of its own; nil for a
	// reattached plugin, which the host did not start.
	group *groupRunner

	downOnce sync.Once
	down     chan struct{}
}

// markDown records that the process is gone.
func (p *proc) markDown() { p.downOnce.Do(func() { close(p.down) }) }

// killGrace bounds how long go-plugin's Kill may take to end a process
// gracefully (it asks the plugin to exit and waits 2 s) before the host kills
// the process group itself, should the asking hang.
const killGrace = 5 * time.Second

// kill ends the process and everything in its process group (go-plugin asks
// it to exit, then kills the group) and removes its private directory.
func (p *proc) kill() {
	if p.group != nil {
		t := time.AfterFunc(killGrace, func() { _ = p.group.Kill(context.Background()) })
		defer t.Stop()
	}
	p.client.Kill()
	p.markDown()
	if p.sockDir != "" {
		_ = os.RemoveAll(p.sockDir)
	}
}

// launch starts the plugin of provider pv and describes it: after the lock
// check, or by attaching to the plugin that HERALD_REATTACH_PROVIDERS names.
//
// Launching is bounded: the process has the host's start timeout to complete
// go-plugin's handshake and as long again to describe itself, and it is
// killed with its whole process group as soon as ctx ends or the host
// closes.
func (h *Host) launch(ctx context.Context, pv *provider) (*proc, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.ctx, cancel)()
	if rc, ok, err := h.reattachConfig(pv.typ); err != nil {
		return nil, err
	} else if ok {
		return h.attach(ctx, pv.typ, rc)
	}
	path, sum, err := h.verify(pv)
	if err != nil {
		return nil, err
	}
	var p *proc
	// A binary just written (a test's copy, a fresh install) can briefly be
	// open for writing in a forked child: exec then fails with ETXTBSY.
	for attempt := 1; ; attempt++ {
		p, err = h.start(ctx, pv.typ, path, sum)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 5 {
			break
		}
		time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
	}
	if err != nil {
		if h.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, sdk.Retryable(fmt.Errorf("launch plugin %s%s at %s: %w", binaryPrefix, pv.typ, path, err))
	}
	if err := h.describeProc(ctx, pv.typ, path, p); err != nil {
		p.kill()
		if h.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, err
	}
	return p, nil
}

// verify resolves the provider's executable and checks it against the lock.
// It returns the path and the sha256 the lock requires ("" without a lock).
func (h *Host) verify(pv *provider) (path, lockedSum string, err error) {
	pv.mu.Lock()
	path = pv.path
	pv.mu.Unlock()
	if path == "" {
		if path, err = h.find(pv.typ); err != nil {
			return "", "", sdk.Permanent(err)
		}
		pv.mu.Lock()
		pv.path = path
		pv.mu.Unlock()
	}
	if h.opts.LockDir == "" {
		return path, "", nil
	}
	lock, err := ReadLock(h.opts.LockDir)
	if err != nil {
		return "", "", sdk.Permanent(err)
	}
	if lock == nil {
		return path, "", nil
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return "", "", sdk.Retryable(fmt.Errorf("plugin %s%s: %w", binaryPrefix, pv.typ, err))
	}
	if err := lock.check(filepath.Join(h.opts.LockDir, LockFile), pv.typ, path, sum); err != nil {
		return "", "", sdk.Permanent(err)
	}
	return path, sum, nil
}

// start launches the executable at path through go-plugin, in a process
// group of its own, and waits for the handshake: at most the host's start
// timeout, and no longer than ctx lasts. A process that misses the deadline,
// fails the handshake or is given up is killed with its whole group. With
// lockedSum set, the binary's sha256 is checked once more right before exec.
func (h *Host) start(ctx context.Context, typ, path, lockedSum string) (*proc, error) {
	var secure *plugin.SecureConfig
	if lockedSum != "" {
		want, err := hex.DecodeString(lockedSum)
		if err != nil {
			return nil, fmt.Errorf("%s: bad sha256 %q for %s", LockFile, lockedSum, typ)
		}
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}
	runDir, err := h.runDirectory()
	if err != nil {
		return nil, err
	}
	sockDir, err := os.MkdirTemp(runDir, "")
	if err != nil {
		return nil, err
	}
	group := newGroupRunner(path, secure)
	// The plugin's socket goes in the private directory (go-plugin makes
	// one inside UnixSocketConfig.TempDir and names it in the plugin's
	// environment); its temp files go there too.
	group.cmd.Env = []string{"TMPDIR=" + sockDir}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			group.cmd.Env = append(group.cmd.Env, k+"="+v)
		}
	}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(),
		RunnerFunc:       group.runnerFunc(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  dialOptions(),
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: sockDir},
		SkipHostEnv:      true,
		Logger:           pluginLogger{h.logger.Named("provider." + typ)},
		// The deadline is the host's own, below; go-plugin's is a backstop.
		StartTimeout: h.startTimeout + 5*time.Second,
	}
	client := plugin.NewClient(cfg)
	p := &proc{client: client, sockDir: sockDir, group: group, started: time.Now(), down: make(chan struct{})}

	var (
		abortMu  sync.Mutex
		abortErr error
	)
	abort := func(reason error) {
		abortMu.Lock()
		if abortErr == nil {
			abortErr = reason
		}
		abortMu.Unlock()
		_ = group.Kill(context.Background())
	}
	timer := time.AfterFunc(h.startTimeout, func() {
		abort(fmt.Errorf("did not complete the handshake within %s", h.startTimeout))
	})
	stopCtx := context.AfterFunc(ctx, func() { abort(fmt.Errorf("launch interrupted: %w", context.Cause(ctx))) })
	err = h.connect(p)
	timer.Stop()
	stopCtx()
	abortMu.Lock()
	if abortErr != nil {
		err = abortErr
	}
	abortMu.Unlock()
	if err != nil {
		p.kill()
		return nil, err
	}
	p.pid = group.Pid()
	return p, nil
}

// attach connects to a plugin started by hand in debug mode.
func (h *Host) attach(ctx context.Context, typ string, rc *plugin.ReattachConfig) (*proc, error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		// go-plugin negotiates VersionedPlugins only when it launches the
		// process; a reattached client dispenses from Plugins.
		Plugins:          sdk.VersionedPlugins()[rc.ProtocolVersion],
		VersionedPlugins: sdk.VersionedPlugins(),
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  dialOptions(),
		Logger:           pluginLogger{h.logger.Named("provider." + typ)},
	})
	p := &proc{client: client, pid: rc.Pid, started: time.Now(), down: make(chan struct{})}
	if err := h.connect(p); err != nil {
		p.kill()
		return nil, sdk.Retryable(fmt.Errorf("attach to plugin %s (pid %d, %s): %w", typ, rc.Pid, sdk.ReattachEnv, err))
	}
	if err := h.describeProc(ctx, typ, "", p); err != nil {
		p.kill()
		return nil, err
	}
	h.logger.Info("attached to plugin in debug mode", "provider", typ, "pid", rc.Pid, "address", rc.Addr.String())
	return p, nil
}

// connect starts (or attaches to) the process and dispenses its client.
func (h *Host) connect(p *proc) error {
	rpc, err := p.client.Client()
	if err != nil {
		return err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return err
	}
	c, ok := raw.(sdk.Client)
	if !ok {
		return fmt.Errorf("plugin dispensed %T, not an sdk.Client", raw)
	}
	p.rpc = c
	p.protocol = p.client.NegotiatedVersion()
	return nil
}

// describeProc fetches the spec of a freshly started process and checks that
// it is the provider its name says.
func (h *Host) describeProc(ctx context.Context, typ, path string, p *proc) error {
	dctx, cancel := context.WithTimeout(ctx, h.startTimeout)
	defer cancel()
	spec, err := p.rpc.Describe(dctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("did not describe itself within %s: %w", h.startTimeout, err)
		}
		return sdk.Retryable(fmt.Errorf("describe plugin %s: %w", typ, err))
	}
	if spec.Type != typ {
		where := ""
		if path != "" {
			where = " at " + path
		}
		return sdk.Permanent(fmt.Errorf("plugin %s%s%s describes itself as provider type %q", binaryPrefix, typ, where, spec.Type))
	}
	p.spec = spec
	return nil
}

// reattachConfig returns the reattach config HERALD_REATTACH_PROVIDERS gives
// for typ, if any.
func (h *Host) reattachConfig(typ string) (*plugin.ReattachConfig, bool, error) {
	if h.reattachEnv == "" {
		return nil, false, nil
	}
	all, err := sdk.ParseReattach(h.reattachEnv)
	if err != nil {
		return nil, false, sdk.Permanent(err)
	}
	rc, ok := all[typ]
	if !ok {
		return nil, false, nil
	}
	prc, err := rc.PluginReattach()
	if err != nil {
		return nil, false, sdk.Permanent(fmt.Errorf("%s: %s: %w", sdk.ReattachEnv, typ, err))
	}
	return prc, true, nil
}

// runDirectory returns the host's private directory (mode 0700) under which
// each plugin process gets its own socket directory.
func (h *Host) runDirectory() (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return "", ErrClosed
	}
	if h.runDir == "" {
		dir, err := os.MkdirTemp(socketBase(), "herald-")
		if err != nil {
			return "", err
		}
		h.runDir = dir
	}
	return h.runDir, nil
}

// socketBase returns the directory to create the run directory in: the
// temp directory, unless its path is so long that a socket path under it
// would pass the 104-108 bytes Unix sockets allow; then /tmp. Under the
// base go at most 66 bytes: /herald-<10 digits>/<10 digits> (the plugin's
// own directory) and go-plugin's /plugin-dir<9-10 digits>/plugin<10 digits>.
func socketBase() string {
	base := os.TempDir()
	if len(base) > 104-66 {
		if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
			return "/tmp"
		}
	}
	return base
}

// outcomeKey carries an *outcome in a call's context, for the interceptor to
// record how the RPC ended.
type outcomeKey struct{}

type outcome struct{ code codes.Code }

// dialOptions are the sdk's dial options plus an interceptor that tells the
// supervisor when an RPC failed in the transport rather than in the
// provider, which is how a plugin dying mid-call shows first.
func dialOptions() []grpc.DialOption {
	return append(sdk.GRPCDialOptions(), grpc.WithUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if o, ok := ctx.Value(outcomeKey{}).(*outcome); ok {
				o.code = status.Code(err)
			}
			return err
		}))
}
