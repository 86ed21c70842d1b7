package herald

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/sdk"
)

// Options configure New and Validate. A project comes either from Dir or
// from Files; everything else is optional.
type Options struct {
	// Dir is a project directory: its *.hcl, *.yaml and *.yml files are
	// merged into one project, as `herald validate --dir` reads them. While
	// Serve runs, a change to them reloads the project once it validates.
	// Dir also locates herald.lock.json, which pins plugin binaries, and the
	// default store.
	Dir string
	// Files is a project held in memory: file name to content. The name's
	// extension (.hcl, .yaml or .yml) selects the syntax, and diagnostics
	// point into the files by name. When Files is set, Dir's files are not
	// read.
	Files map[string][]byte

	// Store records runs. When nil, StoreDSN is opened; without one either,
	// runs go to SQLite at Dir/.herald/herald.db, or, for a project given as
	// Files, to a throw-away SQLite database that Close removes. A Store
	// passed in, one of OpenStore or an application's own (such as a
	// wrapper around one of OpenStore), is left open by Close.
	Store Store
	// StoreDSN names the store to open when Store is nil:
	// sqlite://PATH or postgres://… (several hosts sharing one PostgreSQL
	// database share the work).
	StoreDSN string

	// Providers are served in-process, by the type their Spec declares,
	// beside (and before) the plugin executables found on PluginPaths. A
	// project uses them like plugins: provider "x" { type = "<type>" }.
	Providers []sdk.Provider
	// PluginPaths are the directories searched for herald-provider-<type>
	// executables. Nil searches HERALD_PLUGIN_PATH, the directory of the
	// running executable and ~/.local/share/herald/plugins; an empty,
	// non-nil slice searches nowhere, so only Providers are available.
	PluginPaths []string

	// Secrets resolve secrets.NAME in the project, before the environment
	// variable HERALD_SECRET_NAME is consulted. Keys are NAME (a
	// HERALD_SECRET_ prefix is stripped). Their values, like every sensitive
	// provider config value, are masked as *** in logs, run history, events
	// and errors.
	Secrets map[string]string

	// Logger receives the host's logs and the plugins' (as
	// provider.<type>), with secrets masked. Set Logger or SlogLogger; with
	// neither, logs are discarded.
	Logger hclog.Logger
	// SlogLogger receives the logs instead of Logger, adapted from hclog:
	// hclog's trace level becomes slog.LevelDebug-4 and a logger's name the
	// "logger" attribute.
	SlogLogger *slog.Logger

	// Retention is how long finished runs are kept while Serve runs: every
	// hour, and once when Serve starts, the runs that ended and began
	// longer ago are deleted with their steps, attempts and idempotency
	// keys, in small batches, and a SQLite store gives the space back. Zero
	// means DefaultRetention (30 days, as for `herald serve`); KeepAllRuns
	// (or any negative value) keeps every run. Run, Start and Get without
	// Serve never prune.
	Retention time.Duration

	// Workers bounds the runs Serve executes at once; zero means 64.
	Workers int
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// on the /api/ routes of Handler, like HERALD_API_TOKEN for
	// `herald serve`. It must have at least 16 characters, without
	// whitespace around them.
	APIToken string

	// TracerProvider receives Herald's OpenTelemetry spans: one per run
	// execution, step attempt and plugin call, and one per request to
	// Handler that may start runs (continuing the request's W3C
	// traceparent). A run started with a context that carries a span (Run,
	// Start) continues that trace, also when it resumes later. Nil uses
	// the global provider (otel.GetTracerProvider), a no-op until the
	// embedder sets one.
	TracerProvider trace.TracerProvider
}

// OpenStore opens the store a DSN names: sqlite://PATH (created if needed)
// or postgres://USER:PASSWORD@HOST/DB. Pass it as Options.Store to share one
// store between several Herald values or to keep it open across them; its
// owner closes it.
func OpenStore(ctx context.Context, dsn string) (Store, error) {
	st, err := host.OpenStore(ctx, dsn)
	if err != nil {
		return nil, publicError(err)
	}
	return bridge(st), nil
}

// validate reports options that contradict each other.
func (o *Options) validate() error {
	if o.Dir == "" && o.Files == nil {
		return errors.New("herald: no project: set Options.Dir or Options.Files")
	}
	if o.Logger != nil && o.SlogLogger != nil {
		return errors.New("herald: set Options.Logger or Options.SlogLogger, not both")
	}
	if o.Store != nil && o.StoreDSN != "" {
		return errors.New("herald: set Options.Store or Options.StoreDSN, not both")
	}
	if err := httpapi.CheckToken("Options.APIToken", o.APIToken); err != nil {
		return fmt.Errorf("herald: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range o.Providers {
		if p == nil || p.Spec() == nil {
			return errors.New("herald: Options.Providers holds a nil provider or spec")
		}
		typ := p.Spec().Type
		if seen[typ] {
			return fmt.Errorf("herald: Options.Providers holds provider type %q twice", typ)
		}
		seen[typ] = true
	}
	return nil
}

// sources returns Files in name order, so a project given as Files merges
// and reports its diagnostics the same way every time.
func (o *Options) sources() []config.Source {
	if o.Files == nil {
		return nil
	}
	names := make([]string, 0, len(o.Files))
	for name := range o.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]config.Source, 0, len(names))
	for _, name := range names {
		out = append(out, config.Source{Name: name, Data: o.Files[name]})
	}
	return out
}

// storeDSN returns the DSN to open when no Store is given, and the
// temporary directory that holds it (empty when none was made).
func (o *Options) storeDSN() (dsn, tempDir string, err error) {
	switch {
	case o.StoreDSN != "":
		return o.StoreDSN, "", nil
	case o.Files == nil:
		// The default store lives in the project directory: refuse to
		// create one for a directory that is not there.
		if fi, err := os.Stat(o.Dir); err != nil {
			return "", "", fmt.Errorf("herald: project directory: %w", err)
		} else if !fi.IsDir() {
			return "", "", fmt.Errorf("herald: project directory %s is not a directory", o.Dir)
		}
		return store.DefaultDSN(o.Dir), "", nil
	}
	dir, err := os.MkdirTemp("", "herald-")
	if err != nil {
		return "", "", fmt.Errorf("herald: store: %w", err)
	}
	return "sqlite://" + filepath.ToSlash(filepath.Join(dir, "herald.db")), dir, nil
}

// tracer returns Herald's tracer of the TracerProvider, or of the global
// provider when none is set.
func (o *Options) tracer() trace.Tracer {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tracing.Tracer(tp)
}
