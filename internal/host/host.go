package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/go-hclog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pluginhost"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// DefaultDir is the project directory when none is given.
const DefaultDir = "workflows"

// Options configure Open.
type Options struct {
	// Dir is the project directory; DefaultDir when empty and Sources is
	// nil.
	Dir string
	// Sources, when set, are loaded instead of the files of Dir.
	Sources []config.Source
	// StoreDSN selects the store: sqlite://PATH or postgres://…; empty reads
	// HERALD_STORE, then defaults to sqlite://<Dir>/.herald/herald.db.
	StoreDSN string
	// Store, when set, is used instead of opening StoreDSN; Close leaves it
	// open.
	Store store.Store
	// Secrets resolves secrets.NAME; nil reads only the environment.
	Secrets *Secrets
	// Plugins, when set, is used instead of a new plugin host; Close leaves
	// it running. Embedders register in-process providers on it.
	Plugins *pluginhost.Host
	// PluginPaths are searched for plugins; nil uses HERALD_PLUGIN_PATH and
	// the default directories.
	PluginPaths []string
	// Logger receives the host's logs; nil discards them.
	Logger hclog.Logger
	// LogWriter, when the Logger writes through one, learns the project's
	// sensitive values once it has loaded.
	LogWriter *MaskedWriter
	// Observer receives every run and step transition.
	Observer engine.Observer
	// DryRun makes providers render requests instead of sending them; runs
	// are then kept in a throw-away store unless Store is set.
	DryRun bool
	// Owner names this process in run records.
	Owner string
	// RateLimiter, when set, enforces the providers' rate_limit for the
	// engine instead of its in-process token buckets (see
	// engine.Options.RateLimiter).
	RateLimiter engine.RateLimiter
	// OnPark and SignalURL are passed to the engine (see engine.Options).
	OnPark    func(store.Wait)
	SignalURL func(runID, signal string) string
}

// InvalidProjectError reports a project that failed validation.
type InvalidProjectError struct {
	Diagnostics config.Diagnostics
}

func (e *InvalidProjectError) Error() string {
	return fmt.Sprintf("project is invalid: %d errors", len(e.Diagnostics.Errors()))
}

// Host is a loaded project wired to its plugins, store and engine.
type Host struct {
	Project *config.Project
	Plugins *pluginhost.Host
	Store   store.Store
	Engine  *engine.Engine
	Logger  hclog.Logger

	opts        Options
	ownsPlugins bool
	ownsStore   bool
	tempDir     string
}

// PluginHost returns opts.Plugins or a new plugin host for the options.
func pluginHost(opts Options) (*pluginhost.Host, bool) {
	if opts.Plugins != nil {
		return opts.Plugins, false
	}
	return pluginhost.New(pluginhost.Options{Paths: opts.PluginPaths, Logger: opts.Logger, LockDir: opts.Dir}), true
}

func (o *Options) defaults() {
	if o.Dir == "" && o.Sources == nil {
		o.Dir = DefaultDir
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Secrets == nil {
		o.Secrets = &Secrets{file: map[string]string{}}
	}
}

// Load validates the project with the plugins' schemas and returns it with
// its diagnostics (warnings included). It starts the plugins the project
// names, on plugins.
func Load(ctx context.Context, opts Options, plugins *pluginhost.Host) (*config.Project, config.Diagnostics) {
	return LoadWith(ctx, opts, plugins, nil)
}

// LoadWith is Load for commands that look at the project without needing
// its secrets' values (herald validate, herald schema): a secret that is not
// set reads as standIn(name) (see config.LoadOptions.StandIn). A nil
// standIn makes it Load.
func LoadWith(ctx context.Context, opts Options, plugins *pluginhost.Host, standIn func(name string) string) (*config.Project, config.Diagnostics) {
	opts.defaults()
	lo := config.LoadOptions{
		Spec:    func(typ string) (*sdk.Spec, error) { return plugins.Spec(ctx, typ) },
		Secret:  opts.Secrets.Lookup,
		StandIn: standIn,
	}
	if opts.Sources != nil {
		return config.LoadSources(opts.Sources, lo)
	}
	return config.Load(opts.Dir, lo)
}

// Open loads and validates the project, opens the store, configures every
// provider instance and builds the engine. An invalid project is an
// *InvalidProjectError carrying the diagnostics.
func Open(ctx context.Context, opts Options) (_ *Host, err error) {
	opts.defaults()
	plugins, ownsPlugins := pluginHost(opts)
	h := &Host{Plugins: plugins, Logger: opts.Logger, opts: opts, ownsPlugins: ownsPlugins}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	project, diags := Load(ctx, opts, plugins)
	if diags.HasErrors() {
		return nil, &InvalidProjectError{Diagnostics: diags}
	}
	for _, d := range diags {
		opts.Logger.Warn(d.String())
	}
	h.Project = project
	for _, v := range project.MaskValues() {
		if len(v) < sdk.MinMaskLength {
			opts.Logger.Warn(fmt.Sprintf("a secret or sensitive config value is shorter than %d characters; it cannot be masked in logs and run history", sdk.MinMaskLength))
			break
		}
	}
	if opts.LogWriter != nil {
		opts.LogWriter.SetSecrets(append(opts.Secrets.Values(), project.MaskValues()...)...)
	}
	if err := h.openStore(ctx); err != nil {
		return nil, err
	}
	if err := h.configure(ctx, project); err != nil {
		return nil, err
	}
	h.Engine, err = engine.New(engine.Options{
		Project:     project,
		Store:       h.Store,
		Client:      h.client,
		Logger:      opts.Logger.Named("engine"),
		Observer:    opts.Observer,
		Owner:       opts.Owner,
		DryRun:      opts.DryRun,
		RateLimiter: opts.RateLimiter,
		OnPark:      opts.OnPark,
		SignalURL:   opts.SignalURL,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// client returns the plugin client of a provider instance of the current
// project.
func (h *Host) client(ctx context.Context, instance string) (sdk.Client, error) {
	prov, ok := h.Engine.Project().Providers[instance]
	if !ok {
		return nil, fmt.Errorf("provider instance %q is not in the project", instance)
	}
	return h.Plugins.Client(ctx, prov.Type)
}

// configure hands every provider instance its config, in name order.
func (h *Host) configure(ctx context.Context, p *config.Project) error {
	names := make([]string, 0, len(p.Providers))
	for name := range p.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	masker := sdk.NewMasker(p.MaskValues()...)
	for _, name := range names {
		prov := p.Providers[name]
		raw, err := json.Marshal(prov.Config)
		if err != nil {
			return fmt.Errorf("%s: provider %q: encode config: %w", prov.Range, name, err)
		}
		if err := h.Plugins.Configure(ctx, prov.Type, name, raw); err != nil {
			return fmt.Errorf("%s: provider %q: %s", prov.Range, name, masker.String(err.Error()))
		}
	}
	return nil
}

func (h *Host) openStore(ctx context.Context) error {
	if h.opts.Store != nil {
		h.Store = h.opts.Store
		return nil
	}
	dsn := h.opts.StoreDSN
	if h.opts.DryRun {
		dir, err := os.MkdirTemp("", "herald-dry-run-")
		if err != nil {
			return err
		}
		h.tempDir = dir
		dsn = "sqlite://" + filepath.Join(dir, "herald.db")
	}
	if dsn == "" {
		dsn = os.Getenv("HERALD_STORE")
	}
	if dsn == "" {
		dir := h.opts.Dir
		if dir == "" {
			dir = "."
		}
		dsn = store.DefaultDSN(dir)
	}
	s, err := OpenStore(ctx, dsn)
	if err != nil {
		return err
	}
	h.Store, h.ownsStore = s, true
	return nil
}

// OpenStore opens the store a DSN names.
func OpenStore(ctx context.Context, dsn string) (store.Store, error) {
	d, err := store.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	switch d.Driver {
	case store.DriverSQLite:
		return sqlitestore.OpenWith(ctx, d.Path, sqlitestore.Options{BusyTimeout: d.BusyTimeout})
	case store.DriverPostgres:
		return pgstore.OpenDSN(ctx, dsn)
	default:
		return nil, fmt.Errorf("store %s is not supported: use sqlite:// or postgres://", d.Driver)
	}
}

// Close stops what Open started: the plugins and the store, unless they were
// handed in.
func (h *Host) Close() error {
	var errs []error
	if h.ownsStore && h.Store != nil {
		errs = append(errs, h.Store.Close())
	}
	if h.ownsPlugins && h.Plugins != nil {
		errs = append(errs, h.Plugins.Close())
	}
	if h.tempDir != "" {
		errs = append(errs, os.RemoveAll(h.tempDir))
	}
	return errors.Join(errs...)
}

// Reload loads the project directory again. A valid project replaces the
// running one: instances are configured anew and the engine runs new and
// resumed runs against it, while runs in flight finish with the version they
// started with. An invalid project changes nothing; its diagnostics are
// returned (and the error is an *InvalidProjectError).
func (h *Host) Reload(ctx context.Context) (config.Diagnostics, error) {
	project, diags := Load(ctx, h.opts, h.Plugins)
	if diags.HasErrors() {
		return diags, &InvalidProjectError{Diagnostics: diags}
	}
	if err := h.configure(ctx, project); err != nil {
		return diags, err
	}
	if h.opts.LogWriter != nil {
		h.opts.LogWriter.SetSecrets(append(h.opts.Secrets.Values(), project.MaskValues()...)...)
	}
	h.Project = project
	h.Engine.SetProject(project)
	return diags, nil
}
