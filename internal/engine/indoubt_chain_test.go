package engine_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// gateway is a provider whose reconcile looks sends up by time, like Chat
// API: found only when the message was delivered at or after since.
type gateway struct {
	mu          sync.Mutex
	sends       int
	deliveredAt time.Time
}

func (g *gateway) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "gateway", Version: "0.0.1", Actions: []sdk.Action{{
		Name: "send", Input: sdk.Fields(sdk.String("to", "Recipient.")), Output: sdk.Fields(sdk.String("id", "Message id.")),
		Run: func(context.Context, *sdk.Call) (any, error) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.sends++
			return map[string]any{"id": "sent"}, nil
		},
		Reconcile: func(_ context.Context, _ *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.deliveredAt.IsZero() && !g.deliveredAt.Before(since) {
				return sdk.Reconciliation{Status: sdk.ReconcileFound, Output: map[string]any{"id": "found"}}, nil
			}
			return sdk.Reconciliation{Status: sdk.ReconcileNotFound}, nil
		},
	}}}
}

// A send in doubt followed by an attempt that was cut short before it sent
// anything (a host stopped while reconciling or resending) leaves two
// in-doubt attempts. The resumed run must look the send up from the first
// one's start: from the second's, it misses the message and sends it twice.
func TestInDoubtResumeLooksBackToTheFirstAttemptInDoubt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	g := &gateway{}
	srv := sdk.NewServer(g, nil)
	require.NoError(t, srv.Configure(ctx, "gateway", json.RawMessage(`{}`)))
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(`provider "gateway" {}
workflow "w" {
  step "s" {
    uses = "gateway.send"
    with = { to = "ops" }
  }
}`)}}, config.LoadOptions{Spec: func(string) (*sdk.Spec, error) { return srv.Describe(ctx) }})
	require.False(t, diags.HasErrors(), "%v", diags)
	e, err := engine.New(engine.Options{Project: p, Store: st,
		Client: func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Sleep:  func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	require.NoError(t, err)

	run, _, err := e.Create(ctx, "w", engine.Trigger{Kind: engine.KindManual}, "", 0)
	require.NoError(t, err)
	first := time.Now().UTC().Add(-10 * time.Second)
	_, err = st.UpdateRun(ctx, run.ID, func(r *store.Run) error {
		r.Status, r.Attempt, r.Owner, r.StartedAt, r.HeartbeatAt = store.StatusRunning, 1, "killed-host", first, first
		return nil
	})
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem}
	// Attempt 1 sent (delivered a moment later) and lost its answer.
	require.NoError(t, st.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "gateway", Action: "send", StartedAt: first}))
	g.deliveredAt = first.Add(10 * time.Millisecond)
	require.NoError(t, st.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusFailed, Outcome: store.OutcomeInDoubt, WillRetry: true,
		Error: &store.StepError{Class: "in_doubt", Message: "connection reset"}, FinishedAt: first.Add(time.Second)}))
	// Attempt 2 started three seconds later; its host stopped before it
	// sent anything.
	require.NoError(t, st.StartAttempt(ctx, key, store.AttemptStart{Number: 2, Provider: "gateway", Action: "send", StartedAt: first.Add(3 * time.Second)}))

	got, err := e.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, got.Status, got.Reason)
	require.Zero(t, g.sends, "the send from attempt 1 is found, not sent again")
}
