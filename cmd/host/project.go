package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/host"
	"github.com/heraldhq/herald/internal/pluginhost"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// projectFlags are the flags of every command that loads a project.
type projectFlags struct {
	dir         string
	secretsFile string
	store       string
}

func (f *projectFlags) register(cmd *cobra.Command, withStore bool) {
	f.dir = defaultDir
	cmd.Flags().StringVar(&f.dir, "dir", f.dir, "project directory")
	cmd.Flags().StringVar(&f.secretsFile, "secrets-file", "", "dotenv file of secrets (NAME=value), read before HERALD_SECRET_NAME variables")
	if withStore {
		cmd.Flags().StringVar(&f.store, "store", "", "store DSN (default $HERALD_STORE, else sqlite://<dir>/.herald/herald.db)")
	}
}

// registerStore adds --dir and --store only, for commands that open the
// store without loading the project or its secrets.
func (f *projectFlags) registerStore(cmd *cobra.Command) {
	f.dir = defaultDir
	cmd.Flags().StringVar(&f.dir, "dir", f.dir, "project directory")
	cmd.Flags().StringVar(&f.store, "store", "", "store DSN (default $HERALD_STORE, else sqlite://<dir>/.herald/herald.db)")
}

// storeDSN returns the store the flags select.
func (f *projectFlags) storeDSN() string {
	if f.store != "" {
		return f.store
	}
	if env := os.Getenv("HERALD_STORE"); env != "" {
		return env
	}
	return store.DefaultDSN(f.dir)
}

// masker returns a masker of the secrets of the environment and
// --secrets-file, for commands that show runs without loading the project.
func (f *projectFlags) masker() (*sdk.Masker, error) {
	secrets, err := host.LoadSecrets(f.secretsFile)
	if err != nil {
		return nil, &exitCodeError{code: exitUsage, err: err}
	}
	return sdk.NewMasker(secrets.Values()...), nil
}

// hostOptions returns the options to open the project with a logger that
// masks every secret the host knows of.
func (a *app) hostOptions(f *projectFlags) (host.Options, error) {
	secrets, err := host.LoadSecrets(f.secretsFile)
	if err != nil {
		return host.Options{}, &exitCodeError{code: exitUsage, err: err}
	}
	mw := host.NewMaskedWriter(a.stderr, secrets.Values()...)
	logger := newHostLogger(mw, hclog.Warn)
	return host.Options{
		Dir:         f.dir,
		StoreDSN:    f.storeDSN(),
		Secrets:     secrets,
		Logger:      logger,
		LogWriter:   mw,
		PluginPaths: nil,
	}, nil
}

func logLevel(def hclog.Level) hclog.Level {
	if l := hclog.LevelFromString(os.Getenv("HERALD_LOG_LEVEL")); l != hclog.NoLevel {
		return l
	}
	return def
}

// openHost opens the project; an invalid project prints its diagnostics and
// becomes a usage error (exit 2).
func (a *app) openHost(ctx context.Context, opts host.Options) (*host.Host, error) {
	h, err := host.Open(ctx, opts)
	if err != nil {
		return nil, a.projectError(err, opts.Dir)
	}
	return h, nil
}

// projectError prints the diagnostics of an invalid project and turns it
// into a usage error (exit 2); other errors pass through.
func (a *app) projectError(err error, dir string) error {
	var ip *host.InvalidProjectError
	if errors.As(err, &ip) {
		a.printDiagnostics(ip.Diagnostics)
		return &exitCodeError{code: exitUsage, err: fmt.Errorf("%s: %d error(s)", dir, len(ip.Diagnostics.Errors()))}
	}
	return err
}

func (a *app) printDiagnostics(diags config.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(a.stderr, d.String())
	}
}

// maxInputSize bounds --input: far more than any trigger body (the HTTP API
// takes 1 MiB by default), and little enough to decode comfortably.
const maxInputSize = 8 << 20

// parseInput reads --input: inline JSON, @file, or @- for stdin. An input
// larger than maxInputSize or nested deeper than engine.MaxJSONDepth is
// refused before it is decoded.
func parseInput(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	data := []byte(s)
	if strings.HasPrefix(s, "@") {
		var r io.Reader = os.Stdin
		if s != "@-" {
			f, err := os.Open(s[1:])
			if err != nil {
				return nil, fmt.Errorf("--input: %w", err)
			}
			defer f.Close()
			r = f
		}
		var err error
		data, err = io.ReadAll(io.LimitReader(r, maxInputSize+1))
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
	}
	if len(data) > maxInputSize {
		return nil, fmt.Errorf("--input is larger than %d MiB", maxInputSize>>20)
	}
	v, err := engine.DecodeJSON(data)
	var deep *engine.JSONDepthError
	switch {
	case errors.As(err, &deep):
		return nil, fmt.Errorf("--input: %w", err)
	case err != nil:
		return nil, fmt.Errorf("--input is not JSON: %w", err)
	}
	return v, nil
}

// inspect loads the project for commands that only look at it (validate,
// schedule): secrets that are not set load as stand-in values and are
// returned, sorted, instead of failing the load.
func (a *app) inspect(ctx context.Context, f *projectFlags) (*config.Project, config.Diagnostics, []string, error) {
	opts, err := a.hostOptions(f)
	if err != nil {
		return nil, nil, nil, err
	}
	plugins := pluginhost.New(pluginhost.Options{Logger: opts.Logger, LockDir: f.dir})
	defer plugins.Close()
	missing := map[string]bool{}
	project, diags := host.LoadWith(ctx, opts, plugins, func(name string) string {
		missing[name] = true
		// A stand-in, not "": settings that must not be empty (a webhook
		// secret, a token) still validate.
		return "unset-secret-" + name
	})
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	return project, diags, names, nil
}
