package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pacetest"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/internal/testfigures"
	"github.com/heraldhq/herald/sdk"
)

// clock is a provider declaring 100 calls a second per instance that
// records when each call was sent.
type clock struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *clock) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "clock", Version: "0.0.1", Limits: &sdk.Limits{Rate: "100/s"},
		Actions: []sdk.Action{{Name: "send", Input: sdk.Fields(sdk.String("to", "")), Output: sdk.Fields(),
			Run: func(context.Context, *sdk.Call) (any, error) { return map[string]any{}, nil }}}}
}

// Invoke notes the moment each engine sends a call.
type sentAt struct {
	sdk.Client
	c *clock
}

func (s sentAt) Invoke(ctx context.Context, req *sdk.InvokeRequest) (json.RawMessage, error) {
	s.c.mu.Lock()
	s.c.times = append(s.c.times, time.Now())
	s.c.mu.Unlock()
	return s.Client.Invoke(ctx, req)
}

func TestPacedReplicasShareTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	replicas := []*replica{b.start("a", time.Minute), b.start("b", time.Minute)}
	plugin := &clock{}
	srv := sdk.NewServer(plugin, nil)
	proj, diags := config.LoadSources([]config.Source{{Name: "p.hcl", Data: []byte(`
provider "wa" {
  type = "clock"
}
workflow "blast" {
  step "each" {
    for_each    = "{{ trigger.body.to }}"
    parallelism = 32
    uses        = "wa.send"
    with        = { to = "{{ item }}" }
  }
}`)}}, config.LoadOptions{Spec: func(string) (*sdk.Spec, error) { return plugin.Spec(), nil }})
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NoError(t, srv.Configure(context.Background(), "wa", json.RawMessage(`{}`)))

	const perReplica = 300
	to := make([]any, perReplica)
	for i := range to {
		to[i] = "+49" + strconv.Itoa(i)
	}
	var wg sync.WaitGroup
	for _, r := range replicas {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "runs.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		e, err := engine.New(engine.Options{Project: proj, Store: st, RateLimiter: r.c.RateLimiter(),
			Client: func(context.Context, string) (sdk.Client, error) { return sentAt{srv, plugin}, nil }})
		require.NoError(t, err)
		wg.Go(func() {
			run, err := e.Run(context.Background(), "blast", engine.Trigger{Kind: engine.KindManual, Body: map[string]any{"to": to}})
			require.NoError(t, err)
			require.EqualValues(t, "succeeded", run.Status)
		})
	}
	wg.Wait()
	plugin.mu.Lock()
	pace := pacetest.Measure(plugin.times, time.Second)
	plugin.mu.Unlock()
	require.Equal(t, 2*perReplica, pace.Calls)
	testfigures.Report(t, fmt.Sprintf("2 paced replicas sharing 100/s sent %d calls in %s (%.1f/s), at most %d in any 1 s window", pace.Calls, pace.Span.Round(time.Millisecond), pace.Rate, pace.Peak))
	// Each replica sends at its slots' instants of the shared send budget
	// and gives up a slot it woke too late for (see the engine's
	// sendLease), so the sum stays within the limit even on a loaded
	// machine where sleeps wake late.
	require.LessOrEqual(t, pace.Peak, 101, "the replicas' sends together stay within 100/s (+1 for the burst) in every window")
	// 98/s is aimed at; a slot a replica woke too late for is given up,
	// and on a loaded 2-core machine running the package's other tests
	// both designs measured 63-90/s.
	require.Greater(t, pace.Rate, 60.0, "and use most of it")
}
