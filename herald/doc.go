// Package herald embeds the Herald workflow host in a Go program: the same
// engine, store, plugin host, scheduler and HTTP API as the herald command,
// behind a small API. Everything else in this module is internal; plugin
// authors import github.com/heraldhq/herald/sdk instead.
//
// # Loading a project
//
// A project is a set of HCL or YAML files declaring provider instances and
// workflows, exactly as `herald validate` reads them. New loads it from a
// directory (Options.Dir) or from bytes (Options.Files, name to content),
// checks it against the schemas of the providers it uses, configures every
// provider instance and opens the store:
//
//	h, err := herald.New(ctx, herald.Options{
//		Files: map[string][]byte{"alerts.hcl": src},
//		Providers: []sdk.Provider{myProvider},      // served in-process
//		Secrets: map[string]string{"TOKEN": token}, // secrets.TOKEN
//	})
//	if err != nil {
//		return err // an *InvalidProjectError lists every problem
//	}
//	defer h.Close()
//
// Providers come from two places. Options.Providers are sdk.Provider values
// served in-process, through the same client interface and validation the
// plugin protocol uses, so a provider written for a plugin binary works
// unchanged. Plugin executables named herald-provider-<type> are found on
// Options.PluginPaths (by default HERALD_PLUGIN_PATH, the executable's
// directory and ~/.local/share/herald/plugins), launched once, supervised
// and relaunched after a crash; with a herald.lock.json in Options.Dir, a
// binary whose sha256 differs is refused. A plugin in debug mode is reached
// through HERALD_REATTACH_PROVIDERS, as with the herald command.
//
// Validate checks a project without opening a store or running anything,
// and returns its Diagnostics, each at a file, line and column.
//
// # Running workflows
//
// Run starts a workflow as a manual trigger, its input becoming
// trigger.body, and waits for the result:
//
//	run, err := h.Run(ctx, "oncall-digest", map[string]any{"urgent": true})
//	// run.Status is succeeded, failed or skipped; run.Steps hold each
//	// step's status, attempts, output and error.
//
// Start creates the run and returns its id without waiting, optionally
// guarded by an idempotency key (a repeat with the same key returns the
// first run); Wait waits for a run to end and Get reads it as it stands.
// Every run, step attempt, output and error is recorded in the store
// before the next step starts, and every provider call carries a stable
// idempotency key, so an interrupted run resumes from its last completed
// step without sending anything twice.
//
// Subscribe reports each transition (run started, step started, attempt
// failed, step finished, run finished, ...) of the runs this Herald
// executes, with secrets masked.
//
// # Serving
//
// Serve turns the Herald into the long-running host of `herald serve`: it
// resumes unfinished runs, fires cron triggers, executes runs on a bounded
// worker pool under each workflow's concurrency limit and reloads a project
// directory that changes. Handler is the HTTP API (webhook triggers,
// provider webhooks, the run and workflow endpoints, health, readiness and
// Prometheus metrics) as an http.Handler to mount on the application's own
// server:
//
//	go h.Serve(ctx)
//	mux.Handle("/herald/", http.StripPrefix("/herald", h.Handler()))
//
// Before Serve, Run and Start execute each run at once on a goroutine of its
// own, as `herald run` does.
// Several Herald values may share one PostgreSQL store (Options.StoreDSN
// "postgres://..."), in one process or many: each cron fire and webhook
// delivery then produces exactly one run.
//
// # Store, secrets and logs
//
// Runs go to Options.Store, or the store Options.StoreDSN names, or by
// default SQLite at Dir/.herald/herald.db (a throw-away database for a
// project given as Files). Store is an interface: an application may pass
// its own, typically wrapping one OpenStore returned to meter or mirror
// writes (see the Store example); its errors wrap ErrNotFound, ErrConflict
// and the other sentinel errors of this package. secrets.NAME resolves from Options.Secrets, then
// from the environment variable HERALD_SECRET_NAME. Secret values and the
// provider config fields a schema marks sensitive appear as *** in logs,
// run history, events and errors. Logs go to Options.Logger (hclog) or
// Options.SlogLogger (log/slog); plugins log as provider.<type>.
package herald
