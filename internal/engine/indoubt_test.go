package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// ledger is an in-process provider that keeps the messages it delivered by
// idempotency key. Input drops makes the first N sends of a key end in doubt
// (the response is lost); accept says whether such a send was delivered
// anyway. Its "deliver" action reconciles by looking the key up (answer
// "unknown" makes it unable to tell); "blind" is the same send without a
// reconcile handler.
type ledger struct {
	mu        sync.Mutex
	sends     map[string]int
	delivered map[string]int
	asks      int
}

func newLedger() *ledger { return &ledger{sends: map[string]int{}, delivered: map[string]int{}} }

type ledgerInput struct {
	To     string `json:"to"`
	Drops  int    `json:"drops"`
	Accept bool   `json:"accept"`
	Answer string `json:"answer"`
}

func (l *ledger) Spec() *sdk.Spec {
	input := sdk.Fields(
		sdk.String("to", "Recipient.").AsRequired(),
		sdk.Integer("drops", "Sends whose response is lost."),
		sdk.Bool("accept", "Whether a lost send was delivered."),
		sdk.String("answer", "What reconcile answers instead of the truth."),
	)
	output := sdk.Fields(sdk.String("id", "Message id."))
	return &sdk.Spec{Type: "ledger", Version: "0.0.1", Actions: []sdk.Action{
		{Name: "deliver", Input: input, Output: output, Run: l.send, Reconcile: l.reconcile},
		{Name: "blind", Input: input, Output: output, Run: l.send},
	}}
}

func (l *ledger) send(_ context.Context, c *sdk.Call) (any, error) {
	var in ledgerInput
	if err := c.Bind(&in); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sends[c.IdempotencyKey]++
	if l.sends[c.IdempotencyKey] <= in.Drops {
		if in.Accept {
			l.delivered[c.IdempotencyKey]++
		}
		return nil, sdk.InDoubt(errors.New("connection reset after the request was written"))
	}
	l.delivered[c.IdempotencyKey]++
	return map[string]any{"id": "sent-" + in.To}, nil
}

func (l *ledger) reconcile(_ context.Context, c *sdk.Call, since time.Time) (sdk.Reconciliation, error) {
	var in ledgerInput
	if err := c.Bind(&in); err != nil {
		return sdk.Reconciliation{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks++
	if since.IsZero() {
		return sdk.Reconciliation{}, errors.New("no attempt start")
	}
	switch {
	case in.Answer == "unknown":
		return sdk.Reconciliation{Status: sdk.ReconcileUnknown}, nil
	case l.delivered[c.IdempotencyKey] > 0:
		return sdk.Reconciliation{Status: sdk.ReconcileFound, Output: map[string]any{"id": "found-" + in.To}, Detail: "found"}, nil
	}
	return sdk.Reconciliation{Status: sdk.ReconcileNotFound}, nil
}

func (l *ledger) counts(key string) (sends, delivered int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sends[key], l.delivered[key]
}

type inDoubtBundle struct {
	engine *engine.Engine
	store  store.Store
	ledger *ledger
	sleeps *[]time.Duration
	events *[]engine.Event
	mu     *sync.Mutex
}

func setupInDoubt(t *testing.T, st store.Store, hcl string) *inDoubtBundle {
	t.Helper()
	l := newLedger()
	srv := sdk.NewServer(l, nil)
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(`provider "ledger" {
  type = "ledger"
}
` + hcl)}}, config.LoadOptions{Spec: func(string) (*sdk.Spec, error) {
		return sdk.NewServer(l, nil).Describe(context.Background())
	}})
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NoError(t, srv.Configure(context.Background(), "ledger", json.RawMessage(`{}`)))
	if st == nil {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		st = s
	}
	b := &inDoubtBundle{store: st, ledger: l, sleeps: &[]time.Duration{}, events: &[]engine.Event{}, mu: &sync.Mutex{}}
	e, err := engine.New(engine.Options{
		Project: p, Store: st,
		Client: func(context.Context, string) (sdk.Client, error) { return srv, nil },
		Observer: func(ev engine.Event) {
			b.mu.Lock()
			*b.events = append(*b.events, ev)
			b.mu.Unlock()
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			*b.sleeps = append(*b.sleeps, d)
			b.mu.Unlock()
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	b.engine = e
	return b
}

func (b *inDoubtBundle) view(t *testing.T, id string) *engine.RunView {
	t.Helper()
	v, err := engine.View(context.Background(), b.store, id)
	require.NoError(t, err)
	return v
}

func (b *inDoubtBundle) run(t *testing.T, workflow string) *engine.RunView {
	t.Helper()
	run, err := b.engine.Run(context.Background(), workflow, engine.Trigger{Kind: engine.KindManual})
	require.NoError(t, err)
	return b.view(t, run.ID)
}

func outcomes(s engine.StepView) []string {
	var out []string
	for _, h := range s.History {
		out = append(out, h.Outcome)
	}
	return out
}

func (b *inDoubtBundle) reconciledEvents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, ev := range *b.events {
		if ev.Type == engine.Reconciled {
			out = append(out, ev.Status)
		}
	}
	return out
}

func TestInDoubtReconcileFoundSendsNothingAgain(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "s" {
    uses = "ledger.deliver"
    with = { to = "ops", drops = 1, accept = true }
  }
  step "after" {
    uses = "ledger.deliver"
    with = { to = "{{ steps.s.output.id }}" }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, []string{"in_doubt", "reconciled"}, outcomes(v.Steps[0]))
	require.JSONEq(t, `{"id":"found-ops"}`, string(v.Steps[0].Output), "the step's output is what reconcile found")
	sends, delivered := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 1, sends, "nothing is sent again")
	require.Equal(t, 1, delivered)
	sends, _ = b.ledger.counts(v.RunID + "/after")
	require.Equal(t, 1, sends)
	require.Equal(t, []string{"found"}, b.reconciledEvents())
}

func TestInDoubtReconcileNotFoundSendsAgain(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "s" {
    uses = "ledger.deliver"
    with = { to = "ops", drops = 1, accept = false }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, []string{"in_doubt", "succeeded"}, outcomes(v.Steps[0]), "not found: sent again, though the step has no retry block")
	require.JSONEq(t, `{"id":"sent-ops"}`, string(v.Steps[0].Output))
	sends, delivered := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 2, sends)
	require.Equal(t, 1, delivered, "exactly once")
	require.Equal(t, []string{"not_found"}, b.reconciledEvents())
}

func TestInDoubtReconcileUnknownAsksWithBackoffThenStops(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "s" {
    uses = "ledger.deliver"
    with = { to = "ops", drops = 1, accept = true, answer = "unknown" }
    retry {
      max_attempts     = 4
      initial_interval = "2s"
    }
  }
  step "after" {
    uses = "ledger.deliver"
    with = { to = "{{ steps.s.output == null ? 'unknown' : 'known' }}" }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "needs_attention", v.Status)
	require.Contains(t, v.Reason, "step s: the send is in doubt (asked 4 times: the provider could not tell whether it was sent)")
	require.Contains(t, v.Reason, "herald runs resolve "+v.RunID+" --step s --as sent|unsent")
	require.Equal(t, "needs_attention", v.Steps[0].Status)
	require.Len(t, v.Steps, 1, "later steps wait")
	require.Equal(t, []string{"unknown", "unknown", "unknown", "unknown"}, b.reconciledEvents())
	b.mu.Lock()
	require.Len(t, *b.sleeps, 3, "asked again with backoff")
	require.GreaterOrEqual(t, (*b.sleeps)[0], time.Second)
	b.mu.Unlock()

	// Settled by hand as sent: the step succeeded with a null output and
	// the run goes on without sending it again.
	ctx := context.Background()
	_, err := b.engine.Resolve(ctx, v.RunID, "s", store.NoItem, true, "ops@example")
	require.NoError(t, err)
	run, err := b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	v = b.view(t, v.RunID)
	require.JSONEq(t, `null`, string(v.Steps[0].Output))
	sends, _ := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 1, sends)
	require.JSONEq(t, `{"id":"sent-unknown"}`, string(v.Steps[1].Output), "later steps see a null output")
}

func TestInDoubtStopWaitsForResolveUnsent(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "s" {
    uses = "ledger.blind"
    with = { to = "ops", drops = 1, accept = false }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "needs_attention", v.Status, "an action without a reconcile handler stops by default")
	require.Contains(t, v.Reason, "on_in_doubt is stop")
	require.Empty(t, b.reconciledEvents())

	ctx := context.Background()
	_, err := b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	sends, _ := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 1, sends, "executing a run that needs attention sends nothing")

	_, err = b.engine.Resolve(ctx, v.RunID, "s", store.NoItem, false, "ops@example")
	require.NoError(t, err)
	run, err := b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	sends, delivered := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 2, sends, "unsent: sent again")
	require.Equal(t, 1, delivered)
	v = b.view(t, v.RunID)
	require.Equal(t, []string{"in_doubt", "succeeded"}, outcomes(v.Steps[0]))
}

func TestInDoubtRetryAcceptsADuplicate(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "s" {
    uses        = "ledger.deliver"
    with        = { to = "ops", drops = 1, accept = true }
    on_in_doubt = "retry"
    retry {
      max_attempts = 2
    }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "succeeded", v.Status)
	require.Equal(t, []string{"in_doubt", "succeeded"}, outcomes(v.Steps[0]))
	sends, delivered := b.ledger.counts(v.RunID + "/s")
	require.Equal(t, 2, sends)
	require.Equal(t, 2, delivered, "retry sends again and the recipient gets it twice")
	require.Empty(t, b.reconciledEvents())
}

func TestInDoubtForEachOnlyTheItemInDoubtWaits(t *testing.T) {
	t.Parallel()
	b := setupInDoubt(t, nil, `
workflow "w" {
  step "each" {
    for_each    = "{{ [0, 1, 2] }}"
    parallelism = 2
    uses        = "ledger.blind"
    with        = { to = "p{{ item }}", drops = "{{ item == 1 ? 1 : 0 }}", accept = true }
  }
  step "after" {
    uses = "ledger.deliver"
    with = { to = "done" }
  }
}`)
	v := b.run(t, "w")
	require.Equal(t, "needs_attention", v.Status)
	require.Contains(t, v.Reason, "step each item 1: the send is in doubt")
	require.Contains(t, v.Reason, "--step each --item 1 --as sent|unsent")
	require.Len(t, v.Steps, 1)
	var statuses []string
	for _, it := range v.Steps[0].Items {
		statuses = append(statuses, it.Status)
	}
	require.Equal(t, []string{"succeeded", "needs_attention", "succeeded"}, statuses, "the other items ran to their end")

	ctx := context.Background()
	_, err := b.engine.Resolve(ctx, v.RunID, "each", 1, true, "ops@example")
	require.NoError(t, err)
	run, err := b.engine.Execute(ctx, v.RunID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	for i := range 3 {
		sends, delivered := b.ledger.counts(fmt.Sprintf("%s/each/%d", v.RunID, i))
		require.Equal(t, 1, sends, "item %d", i)
		require.Equal(t, 1, delivered, "item %d", i)
	}
	v = b.view(t, v.RunID)
	require.JSONEq(t, `[{"id":"sent-p0"},null,{"id":"sent-p2"}]`, string(v.Steps[0].Output))
}

// resumeStartedWithoutResult leaves a run as a host killed mid-call leaves
// it: running under a dead owner, its step's attempt started and never
// finished, and the provider having delivered (or not) the message. The
// next Execute must settle that attempt instead of sending blindly.
func resumeStartedWithoutResult(t *testing.T, st store.Store) {
	for _, tc := range []struct {
		name                    string
		action                  string
		delivered               bool
		wantStatus              store.Status
		wantSends, wantDelivers int
		wantOutcomes            []string
	}{
		{"reconcile_found", "deliver", true, store.StatusSucceeded, 0, 1, []string{"in_doubt", "reconciled"}},
		{"reconcile_not_found", "deliver", false, store.StatusSucceeded, 1, 1, []string{"in_doubt", "succeeded"}},
		{"stop", "blind", true, store.StatusNeedsAttention, 0, 1, []string{"in_doubt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setupInDoubt(t, st, `
workflow "w" {
  step "s" {
    uses = "ledger.`+tc.action+`"
    with = { to = "ops" }
  }
}`)
			ctx := context.Background()
			run, _, err := b.engine.Create(ctx, "w", engine.Trigger{Kind: engine.KindManual}, "", 0)
			require.NoError(t, err)
			started := time.Now().UTC()
			_, err = st.UpdateRun(ctx, run.ID, func(r *store.Run) error {
				r.Status, r.Attempt, r.Owner, r.StartedAt, r.HeartbeatAt = store.StatusRunning, 1, "killed-host", started, started
				return nil
			})
			require.NoError(t, err)
			key := store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem}
			require.NoError(t, st.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "ledger", Action: tc.action, StartedAt: started}))
			if tc.delivered {
				b.ledger.mu.Lock()
				b.ledger.delivered[run.ID+"/s"]++
				b.ledger.mu.Unlock()
			}

			got, err := b.engine.Execute(ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, got.Status, got.Reason)
			sends, delivered := b.ledger.counts(run.ID + "/s")
			require.Equal(t, tc.wantSends, sends)
			require.Equal(t, tc.wantDelivers, delivered, "exactly once")
			v := b.view(t, run.ID)
			require.Equal(t, tc.wantOutcomes, outcomes(v.Steps[0]))
			if tc.wantStatus == store.StatusNeedsAttention {
				require.True(t, strings.HasPrefix(got.Reason, "step s: the send is in doubt"), got.Reason)
			}
		})
	}
}

func TestInDoubtResumeOfAnAttemptStartedWithoutResultSQLite(t *testing.T) {
	t.Parallel()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	resumeStartedWithoutResult(t, st)
}

func TestInDoubtResumeOfAnAttemptStartedWithoutResultPostgres(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	st, err := pgstore.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	resumeStartedWithoutResult(t, st)
}
