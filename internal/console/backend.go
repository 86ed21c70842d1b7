package console

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
)

// Backend is what the console reads and drives. internal/serve implements
// it (the same functions the HTTP API calls); tests fake it.
type Backend interface {
	// Project returns the project served now.
	Project() *config.Project
	// Store is where runs are read from; the console never writes it.
	Store() store.Store
	// Trigger starts a run of workflow, as the API's manual trigger does.
	Trigger(ctx context.Context, workflow string, trig engine.Trigger, idemKey string, ttl time.Duration) (runID string, existed bool, err error)
	// NextFires returns the next fire of each trigger of workflow, in
	// trigger order (zero for non-cron triggers).
	NextFires(workflow string) []time.Time
	// Ready reports whether the plugins are up and the store is reachable.
	Ready(ctx context.Context) error
	// Plugins describes the provider plugins the host runs or can run.
	Plugins(ctx context.Context) []PluginInfo

	// RetryRun continues a failed, canceled or needs_attention run from
	// fromStep (empty: the first step that did not succeed).
	RetryRun(ctx context.Context, id, fromStep, by string) error
	// CancelRun stops a queued, running or waiting run.
	CancelRun(ctx context.Context, id, by string) error
	// ResolveRun settles an in-doubt attempt of step (item -1 for none):
	// sent records it succeeded, otherwise it is sent again.
	ResolveRun(ctx context.Context, id, step string, item int, sent bool, by string) error
	// SignalRun delivers signal name with data to a run waiting for it.
	SignalRun(ctx context.Context, id, name string, data json.RawMessage, by string) error
	// Subscribe calls fn with every run and step transition until the
	// returned function is called. fn must not block.
	Subscribe(fn func(engine.Event)) (unsubscribe func())
}

// PluginInfo is one provider plugin as the plugins page shows it.
type PluginInfo struct {
	// Name is the provider type, the <type> of herald-provider-<type>.
	Name     string
	Version  string
	Protocol int
	// Path is the executable; empty for a provider registered in-process.
	Path   string
	SHA256 string
	// Healthy says whether the plugin answered its health check, and
	// Health why not when it did not.
	Healthy bool
	Health  string
	// Restarts counts relaunches after a crash; Pid is the running
	// process (0 when none runs or the provider is in-process).
	Restarts int
	Pid      int
	Actions  []string
	// Used says whether the served project has an instance of it.
	Used bool
}
