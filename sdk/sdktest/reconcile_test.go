package sdktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// notesAPI is a fake API that keeps posted notes with the second they
// arrived and lists them by text, like a provider's message lookup.
type notesAPI struct {
	mu    sync.Mutex
	notes []note
}

type note struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Time int64  `json:"time"`
}

func (a *notesAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		var n note
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil || n.Text == "" {
			http.Error(w, `{"error":"text is required"}`, http.StatusBadRequest)
			return
		}
		n.ID, n.Time = len(a.notes)+1, time.Now().Unix()
		a.notes = append(a.notes, n)
		_ = json.NewEncoder(w).Encode(n)
	case http.MethodGet:
		var found []note
		for _, n := range a.notes {
			if n.Text == r.URL.Query().Get("text") {
				found = append(found, n)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"notes": found})
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// notes is a provider whose post action reconciles by listing the notes with
// the same text posted at or after the attempt's start, compared in whole
// seconds as the API reports them.
type notes struct{ http *sdk.HTTP }

func (p *notes) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type: "notes", Version: "0.1.0",
		Config: sdk.Fields(sdk.String("api_url", "").AsRequired(), sdk.String("token", "").AsSensitive().AsRequired()),
		Actions: []sdk.Action{{
			Name:   "post",
			Input:  sdk.Fields(sdk.String("text", "").AsRequired()),
			Output: sdk.Fields(sdk.Integer("id", "").AsRequired()),
			Run: func(ctx context.Context, call *sdk.Call) (any, error) {
				resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodPost, URL: call.Config.String("api_url") + "/notes", Body: map[string]any{"text": call.Input["text"]}})
				if err != nil || resp.DryRun {
					return nil, err
				}
				var n note
				if err := resp.JSON(&n); err != nil {
					return nil, err
				}
				return map[string]any{"id": n.ID}, nil
			},
			Reconcile: func(ctx context.Context, call *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
				resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodGet, URL: call.Config.String("api_url") + "/notes", Query: map[string][]string{"text": {call.Input["text"].(string)}}})
				if err != nil {
					return sdk.Reconciliation{}, err
				}
				var list struct{ Notes []note }
				if err := resp.JSON(&list); err != nil {
					return sdk.Reconciliation{}, err
				}
				for _, n := range list.Notes {
					if n.Time >= since.Unix() {
						return sdk.Reconciliation{Status: sdk.ReconcileFound, Output: map[string]any{"id": n.ID}}, nil
					}
				}
				return sdk.Reconciliation{Status: sdk.ReconcileNotFound}, nil
			},
		}},
	}
}

func TestConformanceExercisesReconcile(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, &notes{http: sdk.NewHTTP(5 * time.Second)}, sdktest.Options{
		Config: func(baseURL string) map[string]any {
			return map[string]any{"api_url": baseURL, "token": "tok-notes-secret"}
		},
		Fake:   &notesAPI{},
		Inputs: map[string]map[string]any{"post": {"text": "hello"}},
	})
}
