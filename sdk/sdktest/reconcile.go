package sdktest

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// lookupGuard passes requests to h and fails the test on any request that
// could change something (not GET or HEAD) while armed.
type lookupGuard struct {
	t     *testing.T
	h     http.Handler
	armed atomic.Bool
}

func (g *lookupGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.armed.Load() && r.Method != http.MethodGet && r.Method != http.MethodHead {
		g.t.Errorf("reconcile sent %s %s: a reconcile handler must send nothing (only GET or HEAD)", r.Method, r.URL.Path)
		http.Error(w, "sdktest: reconcile must send nothing", http.StatusForbidden)
		return
	}
	g.h.ServeHTTP(w, r)
}

// reconcile checks an action's reconcile handler: found after a send,
// not_found for a send that never happened, unknown when the API fails, and
// nothing sent in any of them.
func (s *suite) reconcile(t *testing.T, a sdk.Action) {
	ask := func(t *testing.T, h http.Handler, input map[string]any, key string, since time.Time, send bool) (*sdk.Reconciliation, error) {
		t.Helper()
		g := &lookupGuard{t: t, h: h}
		client, _ := s.setup(t, g)
		raw, err := json.Marshal(input)
		if err != nil {
			t.Fatalf("encode input: %v", err)
		}
		req := sdk.InvokeRequest{Instance: s.opts.Instance, Action: a.Name, Input: raw, IdempotencyKey: key, Attempt: 1}
		if send {
			if _, err := client.Invoke(context.Background(), &req); err != nil {
				t.Fatalf("invoke %s against the fake: %v", a.Name, describe(err))
			}
		}
		r, ok := client.(sdk.Reconciler)
		if !ok {
			t.Fatalf("the gRPC client %T cannot reconcile", client)
		}
		g.armed.Store(true)
		return r.Reconcile(context.Background(), &sdk.ReconcileRequest{InvokeRequest: req, Since: since})
	}
	t.Run("found", func(t *testing.T) {
		since := time.Now()
		rec, err := ask(t, s.opts.Fake, s.opts.Inputs[a.Name], "sdktest-reconcile-"+a.Name, since, true)
		if err != nil {
			t.Fatalf("reconcile after a send: %v", describe(err))
		}
		if rec.Status != sdk.ReconcileFound {
			t.Fatalf("reconcile after a send answered %s (%s), want found", rec.Status, rec.Detail)
		}
		raw, _ := rec.Output.(json.RawMessage)
		obj, err := decodeObject(raw)
		if err != nil {
			t.Fatalf("reconciled output of %s: %v: %s", a.Name, err, raw)
		}
		for _, fe := range a.Output.Validate(obj, sdk.ValidateOptions{}) {
			t.Errorf("reconciled output of %s does not match its output schema: %v\noutput: %s", a.Name, fe, raw)
		}
	})
	t.Run("not_found", func(t *testing.T) {
		input, since := s.opts.ReconcileUnsent[a.Name], time.Now()
		if input == nil {
			input, since = s.opts.Inputs[a.Name], since.Add(time.Hour)
		}
		rec, err := ask(t, s.opts.Fake, input, "sdktest-reconcile-unsent-"+a.Name, since, false)
		if err != nil {
			t.Fatalf("reconcile of a send that never happened: %v", describe(err))
		}
		if rec.Status != sdk.ReconcileNotFound {
			t.Errorf("reconcile of a send that never happened answered %s (%s), want not_found", rec.Status, rec.Detail)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		down := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error":"sdktest: service unavailable"}`, http.StatusServiceUnavailable)
		})
		rec, err := ask(t, down, s.opts.Inputs[a.Name], "sdktest-reconcile-down-"+a.Name, time.Now(), false)
		switch {
		case err != nil && sdk.AsError(err).Class == sdk.ClassPermanent:
			t.Errorf("reconcile against an API answering 503 gave a permanent error, want unknown or a retryable one: %v", err)
		case err == nil && rec.Status != sdk.ReconcileUnknown:
			t.Errorf("reconcile against an API answering 503 answered %s, want unknown", rec.Status)
		}
	})
}
