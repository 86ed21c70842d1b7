package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/serve"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// Handler returns Herald's HTTP API, as `herald serve` serves it, to mount
// on the embedder's server (strip any prefix with http.StripPrefix):
//
//   - POST /hooks/{path}: webhook triggers, 202 {"run_ids": [...]}; with a
//     trigger secret, X-Herald-Signature: sha256=<hex HMAC-SHA256 of the
//     body> is required, or of "<timestamp>.<body>" with the Unix time in
//     X-Herald-Timestamp.
//   - POST /providers/{instance}/webhook: provider webhooks, verified by the
//     instance's provider and turned into events that start runs.
//   - POST /api/v1/workflows/{name}/runs: manual triggers, with an optional
//     Idempotency-Key header; GET /api/v1/runs, /api/v1/runs/{id} and
//     /api/v1/workflows.
//   - GET /healthz, /readyz and /metrics (Prometheus).
//
// The /api/ routes require Options.APIToken as a bearer token when it is
// set. Triggers are taken while Serve runs: one that arrives while Serve
// starts waits a few seconds for it; otherwise, before Serve and after it
// returns, triggers are answered 503 with a Retry-After header, and so is
// /readyz.
func (h *Herald) Handler() http.Handler {
	return httpapi.New(runtime{h}, httpapi.Options{
		Token:   h.apiToken,
		Logger:  h.logger.Named("http"),
		Metrics: h.metrics,
		Masker:  func() *sdk.Masker { return h.engine().Masker() },
		Tracer:  h.tracer,
	})
}

// errNotServing answers triggers that arrive while Serve does not run.
var errNotServing = fmt.Errorf("%w: herald is not serving", httpapi.ErrUnavailable)

// runtime is the server as the HTTP API drives it, taking triggers only
// while Serve runs.
type runtime struct{ h *Herald }

var _ httpapi.Runtime = runtime{}

func (r runtime) Project() *config.Project { return r.h.srv.Project() }

func (r runtime) Store() store.Store { return r.h.srv.Store() }

func (r runtime) NextFires(workflow string) []time.Time { return r.h.srv.NextFires(workflow) }

// startWait is how long a trigger waits for Serve to start taking
// triggers before it is answered 503.
const startWait = serve.DefaultAdmitWait

// whileServing runs fn once Serve takes triggers, waiting up to startWait
// for it to start, so a request that arrives while Serve starts is not
// refused.
func (r runtime) whileServing(ctx context.Context, fn func() error) error {
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-r.h.serving:
	case <-t.C:
		return errNotServing
	case <-ctx.Done():
		return errNotServing
	}
	r.h.mu.RLock()
	defer r.h.mu.RUnlock()
	if r.h.state != stateServing {
		return errNotServing
	}
	return unavailable(fn())
}

func (r runtime) Trigger(ctx context.Context, workflow string, trig engine.Trigger, key string, ttl time.Duration) (id string, existed bool, err error) {
	err = r.whileServing(ctx, func() (err error) {
		id, existed, err = r.h.srv.Trigger(ctx, workflow, trig, key, ttl)
		return err
	})
	return id, existed, err
}

func (r runtime) ProviderWebhook(ctx context.Context, instance string, req *sdk.WebhookRequest) (ids []string, err error) {
	err = r.whileServing(ctx, func() (err error) {
		ids, err = r.h.srv.ProviderWebhook(ctx, instance, req)
		return err
	})
	return ids, err
}

func (r runtime) Ready(ctx context.Context) error {
	r.h.mu.RLock()
	serving := r.h.state == stateServing
	r.h.mu.RUnlock()
	if !serving {
		return errNotServing
	}
	return r.h.srv.Ready(ctx)
}

// unavailable marks a full run queue as a "try again later".
func unavailable(err error) error {
	if errors.Is(err, serve.ErrBusy) {
		return fmt.Errorf("%w: %w", httpapi.ErrUnavailable, err)
	}
	return err
}

func (r runtime) RetryRun(ctx context.Context, id, fromStep, by string) error {
	return r.whileServing(ctx, func() error { return r.h.srv.RetryRun(ctx, id, fromStep, by) })
}

func (r runtime) CancelRun(ctx context.Context, id, by string) error {
	return r.h.srv.CancelRun(ctx, id, by)
}

func (r runtime) ResolveRun(ctx context.Context, id, step string, item int, sent bool, by string) error {
	return r.whileServing(ctx, func() error { return r.h.srv.ResolveRun(ctx, id, step, item, sent, by) })
}

func (r runtime) SignalRun(ctx context.Context, id, name string, data json.RawMessage, by string) error {
	return r.whileServing(ctx, func() error { return r.h.srv.SignalRun(ctx, id, name, data, by) })
}

func (r runtime) Subscribe(fn func(engine.Event)) (unsubscribe func()) {
	return r.h.srv.Subscribe(fn)
}
