package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/serve"
	"github.com/heraldhq/herald/sdk"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		f       projectFlags
		listen  string
		workers int
		ui      string
		keep    string
		// publicURL starts the signal links (run.signal_url.<name>).
		publicURL string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the long-running host: scheduler, webhooks, HTTP API, hot reload",
		Long: "Run the long-running host. Cron triggers fire on schedule (missed fires are\n" +
			"caught up per their catchup policy), webhooks and provider events start runs,\n" +
			"the HTTP API serves runs and workflows, and a change in the project directory\n" +
			"(or SIGHUP) reloads it once it validates. SIGTERM or SIGINT stops taking\n" +
			"triggers, lets steps in flight finish, and exits 0; unfinished runs resume on\n" +
			"the next start.\n\n" +
			"Environment: HERALD_LISTEN (default 127.0.0.1:8080), HERALD_API_TOKEN (at least\n" +
			"16 characters; required to listen on a non-loopback address), HERALD_STORE, HERALD_LOG_LEVEL (default\n" +
			"info), HERALD_LOG_FORMAT (text or json), HERALD_WORKERS, HERALD_RETENTION\n" +
			"(default 30d; 0 keeps every run), HERALD_HEARTBEAT_INTERVAL (default 5s),\n" +
			"HERALD_UI (on, readonly or off, like --ui), HERALD_PUBLIC_URL (like --public-url),\n" +
			"HERALD_SIGNAL_KEY (the signal links' key; else generated in signal.key).\n\n" +
			"The operator console is served at /ui/ (GET / redirects there): workflows,\n" +
			"runs, each run's timeline, the schedule and the plugins, with live updates.\n" +
			"With HERALD_API_TOKEN set it asks for the token once.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			applyRuntimeSettings(os.Getenv("HERALD_PPROF_ADDR"))
			if listen == "" {
				listen = os.Getenv("HERALD_LISTEN")
			}
			if listen == "" {
				listen = "127.0.0.1:8080"
			}
			token := os.Getenv("HERALD_API_TOKEN")
			if err := httpapi.CheckToken("HERALD_API_TOKEN", token); err != nil {
				return &exitCodeError{code: exitUsage, err: err}
			}
			if err := httpapi.ListenCheck(listen, token); err != nil {
				return &exitCodeError{code: exitUsage, err: err}
			}
			if publicURL == "" {
				publicURL = os.Getenv("HERALD_PUBLIC_URL")
			}
			if !cmd.Flags().Changed("ui") {
				ui = os.Getenv("HERALD_UI")
			}
			uiMode, err := console.ParseMode(ui)
			if err != nil {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--ui: %w", err)}
			}
			if workers == 0 {
				workers, _ = strconv.Atoi(os.Getenv("HERALD_WORKERS"))
			}
			keepFor, err := retention.FromEnv()
			if keep != "" {
				keepFor, err = retention.Parse(keep)
			}
			if err != nil {
				return &exitCodeError{code: exitUsage, err: err}
			}
			opts, err := a.hostOptions(&f)
			if err != nil {
				return err
			}
			opts.Logger = newHostLogger(opts.LogWriter, hclog.Info)
			stopTracing, err := a.startTracing(cmd.Context(), &opts)
			if err != nil {
				return err
			}
			defer stopTracing()
			m := metrics.New()
			srv, err := serve.New(cmd.Context(), serve.Options{
				Host:              opts,
				Workers:           workers,
				Observer:          m.Observe,
				SchedulerObserver: m.Scheduler(),
				Retention:         keepFor,
				RetentionObserver: m,
				PublicURL:         publicURL,
			})
			if err != nil {
				return a.projectError(err, opts.Dir)
			}
			defer srv.Close()
			m.PluginRestarts(srv.Host().Plugins.AllRestarts)
			// Closed when the HTTP server shuts down, so event streams end
			// instead of holding the shutdown up.
			streamsDone := make(chan struct{})
			handler := httpapi.New(srv, httpapi.Options{
				Token:   token,
				Logger:  opts.Logger.Named("http"),
				Metrics: m,
				Masker:  func() *sdk.Masker { return srv.Host().Engine.Masker() },
				Done:    streamsDone,
				Tracer:  opts.Tracer,

				SignalLinks: srv.SignalLinks(),
			})
			if uiMode != console.ModeOff {
				ui, err := console.New(srv, console.Options{
					Prefix:   console.DefaultPrefix,
					Token:    token,
					ReadOnly: uiMode == console.ModeReadOnly,
					Masker:   func() *sdk.Masker { return srv.Host().Engine.Masker() },
					Logger:   opts.Logger.Named("console"),
				})
				if err != nil {
					return err
				}
				handler = console.Mount(handler, ui)
			}
			if addr := os.Getenv("HERALD_PPROF_ADDR"); addr != "" {
				// Go's profiler on its own (loopback) address, for
				// performance work; never on the API listener.
				if err := httpapi.ListenCheck(addr, ""); err != nil {
					return &exitCodeError{code: exitUsage, err: fmt.Errorf("HERALD_PPROF_ADDR: %w", err)}
				}
				go func() { _ = http.ListenAndServe(addr, http.DefaultServeMux) }()
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			httpSrv := httpapi.NewServer(listen, handler)
			httpSrv.RegisterOnShutdown(func() { close(streamsDone) })
			opts.Logger.Info("listening", "addr", "http://"+ln.Addr().String())
			fmt.Fprintf(a.stdout, "herald serve: listening on http://%s\n", ln.Addr())
			httpErr := make(chan error, 1)
			go func() { httpErr <- httpSrv.Serve(ln) }()

			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						opts.Logger.Info("SIGHUP: reloading the project")
						_ = srv.Reload(ctx)
					}
				}
			}()
			runDone := make(chan error, 1)
			go func() { runDone <- srv.Run(ctx) }()
			select {
			case err := <-httpErr:
				stop()
				<-runDone
				return fmt.Errorf("http server: %w", err)
			case <-cmd.Context().Done():
			}
			// Stop taking triggers first, then let the runtime finish.
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				opts.Logger.Warn("http shutdown", "error", err)
			}
			stop()
			if err := <-runDone; err != nil {
				return err
			}
			opts.Logger.Info("stopped")
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default $HERALD_LISTEN, else 127.0.0.1:8080)")
	cmd.Flags().IntVar(&workers, "workers", 0, "runs executing at once (default $HERALD_WORKERS, else 64, or 256 with a postgres:// store)")
	cmd.Flags().StringVar(&keep, "retention", "", "delete finished runs older than this, such as 30d or 720h; 0 keeps every run (default $HERALD_RETENTION, else 30d)")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "where this host is reachable from outside; the signal links run.signal_url.<name> start with it (default $HERALD_PUBLIC_URL)")
	cmd.Flags().StringVar(&ui, "ui", "on", "the operator console at /ui/: on, readonly (pages, no actions) or off (default $HERALD_UI, else on)")
	return cmd
}
