package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// noopRuntime accepts every trigger and does nothing, so a benchmark
// measures the API alone.
type noopRuntime struct{ project *config.Project }

func (n noopRuntime) Project() *config.Project { return n.project }
func (n noopRuntime) Store() store.Store       { return nil }
func (n noopRuntime) Trigger(context.Context, string, engine.Trigger, string, time.Duration) (string, bool, error) {
	return "01JRUN", false, nil
}
func (n noopRuntime) ProviderWebhook(context.Context, string, *sdk.WebhookRequest) ([]string, error) {
	return nil, nil
}
func (n noopRuntime) NextFires(string) []time.Time { return nil }
func (n noopRuntime) Ready(context.Context) error  { return nil }
func (n noopRuntime) RetryRun(context.Context, string, string, string) error {
	return nil
}
func (n noopRuntime) CancelRun(context.Context, string, string) error { return nil }
func (n noopRuntime) ResolveRun(context.Context, string, string, int, bool, string) error {
	return nil
}
func (n noopRuntime) SignalRun(context.Context, string, string, json.RawMessage, string) error {
	return nil
}
func (n noopRuntime) Subscribe(func(engine.Event)) func() { return func() {} }

// BenchmarkHookHandler measures a webhook from request to 202 against a
// no-op runtime. The baseline is a bare handler that reads the body and
// writes the same response, so the difference is what the API adds:
// routing, metrics, signature check, decoding.
func BenchmarkHookHandler(b *testing.B) {
	body := []byte(`{"urgent":true,"recipients":[{"phone":"14155550123","name":"Ada"},{"phone":"14155550124","name":"Bob"}],"note":"disk almost full on db-1"}`)
	rt := noopRuntime{project: loadProject(b)}
	h := httpapi.New(rt, httpapi.Options{})
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"run_ids":["01JRUN"]}` + "\n"))
	})
	sig := httpapi.Sign(hookSecret, body)
	for _, bc := range []struct {
		name    string
		h       http.Handler
		path    string
		headers []string
	}{
		{"baseline", baseline, "/hooks/team/open", nil},
		{"unsigned", h, "/hooks/team/open", nil},
		{"signed", h, "/hooks/signed", []string{httpapi.SignatureHeader, sig}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest("POST", bc.path, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				for i := 0; i+1 < len(bc.headers); i += 2 {
					r.Header.Set(bc.headers[i], bc.headers[i+1])
				}
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, r)
				if w.Code != http.StatusAccepted {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
