package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// Runtime is what the HTTP API drives. internal/serve implements it; tests
// may fake it.
type Runtime interface {
	// Project returns the project currently served; it changes on reload.
	Project() *config.Project
	// Store is where runs are read from.
	Store() store.Store
	// Trigger creates a run of workflow and hands it to the dispatcher. With
	// an idemKey (already scoped by the caller, such as
	// "api:<workflow>:<key>") a repeat within ttl returns the first run and
	// existed is set.
	Trigger(ctx context.Context, workflow string, trig engine.Trigger, idemKey string, ttl time.Duration) (runID string, existed bool, err error)
	// ProviderWebhook hands a provider webhook to the instance's plugin and
	// starts a run of every workflow whose event trigger matches an event it
	// produced. A replayed delivery starts no run. A request that fails the
	// plugin's verification returns an *sdk.UnverifiedError; an unknown
	// instance an error wrapping ErrUnknownInstance.
	ProviderWebhook(ctx context.Context, instance string, req *sdk.WebhookRequest) (runIDs []string, err error)
	// NextFires returns the next fire time of each cron trigger of workflow,
	// in trigger order (zero for non-cron triggers).
	NextFires(workflow string) []time.Time
	// Ready reports whether the plugins are up and the store is reachable.
	Ready(ctx context.Context) error

	// The operations on runs (SPEC §8). Their errors wrap store.ErrNotFound
	// (HTTP 404), engine.ErrRunState (409) or store.ErrInvalid (400). by
	// names who asked ("api", "cli", "console:<remote addr>") and is
	// recorded in the run's operation log.

	// RetryRun continues a failed, canceled or needs_attention run as the
	// same run (attempt+1) from fromStep ("" = first step that did not
	// succeed).
	RetryRun(ctx context.Context, id, fromStep, by string) error
	// CancelRun stops a queued, running or waiting run at the next safe
	// point; an attempt in flight is cancelled through its context and
	// recorded canceled.
	CancelRun(ctx context.Context, id, by string) error
	// ResolveRun settles an in-doubt attempt (§9): sent records it
	// succeeded, !sent sends it again.
	ResolveRun(ctx context.Context, id, step string, item int, sent bool, by string) error
	// SignalRun delivers a signal to a wait_for { signal = name } (§10).
	SignalRun(ctx context.Context, id, name string, data json.RawMessage, by string) error
	// Subscribe calls fn for every engine.Event until unsubscribe is
	// called; fn must be quick.
	Subscribe(fn func(engine.Event)) (unsubscribe func())
}
