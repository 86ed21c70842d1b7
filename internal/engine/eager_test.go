package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
)

// eagerSetup opens a SQLite store and an engine for workflows on it that
// may use every combined write, recording the engine's events.
func eagerSetup(t *testing.T, workflows string) (*engine.Engine, *sqlitestore.Store, *writeCounter, func() []engine.EventType) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var (
		mu     sync.Mutex
		events []engine.EventType
	)
	e, wc := countingEngine(t, st, eager, workflows, func(ev engine.Event) {
		mu.Lock()
		events = append(events, ev.Type)
		mu.Unlock()
	})
	return e, st, wc, func() []engine.EventType {
		mu.Lock()
		defer mu.Unlock()
		return append([]engine.EventType(nil), events...)
	}
}

const gatedOneStep = `
workflow "gated" {
  when = "trigger.body.go == true"
  step "page" {
    uses = "primary.send"
    with = { to = "a" }
  }
}`

// A run whose when gate skips it makes no call: it is created as Create
// creates it, before anything else is written, and ends in one more
// commit. A run the gate lets through is started eagerly.
func TestEagerRunSkippedByWhenIsCreatedFirst(t *testing.T) {
	t.Parallel()
	e, st, wc, events := eagerSetup(t, gatedOneStep)
	ctx := context.Background()

	run, err := executeNew(t, e, st, "gated", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"go": false}}, func(stored store.Run) {
		require.Equal(t, store.StatusQueued, stored.Status, "created as Create creates it")
	})
	require.NoError(t, err)
	require.Equal(t, store.StatusSkipped, run.Status)
	require.Equal(t, int64(2), wc.writes.Load(), "created, then taken and ended in one write")
	got, err := st.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSkipped, got.Status)
	require.Equal(t, []engine.EventType{engine.RunStarted, engine.RunFinished}, events())

	wc.writes.Store(0)
	run, err = executeNew(t, e, st, "gated", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"go": true}}, func(stored store.Run) {
		require.Equal(t, store.StatusRunning, stored.Status, "started eagerly")
	})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, run.Status)
	require.Equal(t, int64(maxEagerCommitsPerRun), wc.writes.Load())
}

// A run whose idempotency key names a live run is not stored and sends
// nothing: its admission is answered with the live run, as Create answers.
func TestEagerRunWithLiveKeyIsNotCreated(t *testing.T) {
	t.Parallel()
	e, st, _, events := eagerSetup(t, oneStep)
	ctx := context.Background()
	trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}
	first, _, err := e.Create(ctx, "one", trig, "api:one:k1", time.Hour)
	require.NoError(t, err)

	run, err := e.NewRun(ctx, "one", trig)
	require.NoError(t, err)
	var answers []store.Run
	_, err = e.ExecuteNew(ctx, engine.Admission{Run: run, IdemKey: "api:one:k1", TTL: time.Hour,
		Admitted: func(got store.Run, existed bool, err error) {
			require.NoError(t, err)
			require.True(t, existed)
			answers = append(answers, got)
		}})
	require.ErrorIs(t, err, engine.ErrNotCreated)
	require.Len(t, answers, 1)
	require.Equal(t, first.ID, answers[0].ID)

	_, err = st.GetRun(ctx, run.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	attempts, err := st.Attempts(ctx, first.ID)
	require.NoError(t, err)
	require.Empty(t, attempts, "the live run is left to its own execution")
	require.Empty(t, events(), "a run never stored is never announced")
}

// A combined write that fails answers the admission with the store's
// error, stores nothing and sends nothing.
func TestEagerRunWhoseCreationFailsSendsNothing(t *testing.T) {
	t.Parallel()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var events []engine.EventType
	wc := &writeCounter{Store: st}
	failing := eagerCounter{committingCounter: committingCounter{writeCounter: wc, c: st}, es: st,
		fail: fmt.Errorf("create run: %w", store.ErrUnavailable)}
	e := engineOn(t, failing, oneStep, func(ev engine.Event) { events = append(events, ev.Type) })
	ctx := context.Background()

	run, err := e.NewRun(ctx, "one", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}})
	require.NoError(t, err)
	var answered []error
	_, err = e.ExecuteNew(ctx, engine.Admission{Run: run, Admitted: func(_ store.Run, existed bool, err error) {
		require.False(t, existed)
		answered = append(answered, err)
	}})
	require.ErrorIs(t, err, engine.ErrNotCreated)
	require.Len(t, answered, 1)
	require.ErrorIs(t, answered[0], store.ErrUnavailable, "the admission gets the store's error, as Create's caller does")
	require.False(t, errors.Is(answered[0], engine.ErrNotCreated))

	_, err = st.GetRun(ctx, run.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, int64(1), wc.writes.Load(), "nothing is written after the failed creation")
	require.Empty(t, events, "nothing was sent: no step finished")
}

// A run handed to ExecuteRun as its creator stored it (queued) but
// canceled since is not read again before its first write: that write, the
// run's take, finds it changed, stores nothing and sends nothing, and the
// events emitted before it are dropped, so the run is never announced as
// started.
func TestHandedRunCanceledMeanwhileIsNotAnnounced(t *testing.T) {
	t.Parallel()
	e, st, _, events := eagerSetup(t, oneStep)
	ctx := context.Background()
	run, _, err := e.Create(ctx, "one", engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "a"}}, "", 0)
	require.NoError(t, err)
	got, err := e.Cancel(ctx, run.ID, "operator", 0)
	require.NoError(t, err)
	require.Equal(t, engine.Canceled, got)
	require.Equal(t, []engine.EventType{engine.RunFinished}, events(), "the cancel ends the queued run")

	final, err := e.ExecuteRun(ctx, run)
	require.NoError(t, err)
	require.Equal(t, store.StatusCanceled, final.Status)
	attempts, err := st.Attempts(ctx, run.ID)
	require.NoError(t, err)
	require.Empty(t, attempts, "nothing was sent")
	require.Equal(t, []engine.EventType{engine.RunFinished}, events(), "the stale run was never announced as started")
}

// Runs whose first attempt may have to wait are not started eagerly: a
// workflow with a concurrency limit, a step calling an instance with a
// rate limit (here a fallback's), and a cron catch-up.
func TestEagerEligible(t *testing.T) {
	t.Parallel()
	e, _, _, _ := eagerSetup(t, oneStep+`
provider "limited" {
  type       = "pager"
  rate_limit = "5/s"
}
workflow "capped" {
  concurrency { limit = 2 }
  step "page" {
    uses = "primary.send"
    with = { to = "a" }
  }
}
workflow "paced" {
  step "page" {
    uses = "primary.send"
    with = { to = "a" }
    fallback {
      uses = "limited.send"
      with = { to = "a" }
    }
  }
}`)
	webhook := engine.Trigger{Kind: engine.KindWebhook}
	require.True(t, e.EagerEligible("one", webhook))
	require.True(t, e.EagerEligible("one", engine.Trigger{Kind: engine.KindCron}))
	require.False(t, e.EagerEligible("one", engine.Trigger{Kind: engine.KindCron, Catchup: true}))
	require.False(t, e.EagerEligible("capped", webhook))
	require.False(t, e.EagerEligible("paced", webhook))
	require.False(t, e.EagerEligible("missing", webhook))
}

// A host killed right after a run's eager commit (created running with its
// first attempt started) leaves what a host killed right after the
// attempt's start leaves for a run created first: the resume finds the
// attempt in doubt and settles it by the step's on_in_doubt rule, here a
// reconcile that finds the message delivered, so it is not sent again.
func TestEagerCommitThenCrashResumesInDoubt(t *testing.T) {
	t.Parallel()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := setupInDoubt(t, st, `
workflow "w" {
  step "s" {
    uses = "ledger.deliver"
    with = { to = "ops" }
  }
}`)
	ctx := context.Background()
	run, err := b.engine.NewRun(ctx, "w", engine.Trigger{Kind: engine.KindWebhook})
	require.NoError(t, err)
	started := time.Now().UTC()
	run.Status, run.Attempt, run.Owner, run.StartedAt, run.HeartbeatAt = store.StatusRunning, 1, "killed-host", started, started
	key := store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem}
	_, _, err = st.CreateStartAttemptRun(ctx, run, "", 0, key, store.AttemptStart{Number: 1, Provider: "ledger", Action: "deliver", StartedAt: started})
	require.NoError(t, err)
	b.ledger.mu.Lock()
	b.ledger.delivered[run.ID+"/s"]++ // the send reached the provider before the host died
	b.ledger.mu.Unlock()

	got, err := b.engine.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, got.Status, got.Reason)
	sends, delivered := b.ledger.counts(run.ID + "/s")
	require.Zero(t, sends, "not sent again")
	require.Equal(t, 1, delivered, "exactly once")
	require.Equal(t, []string{"in_doubt", "reconciled"}, outcomes(b.view(t, run.ID).Steps[0]))
}

// An admission made by NewAdmission carries the trigger as decoding the
// stored one gives, so the execution does not decode it: its expressions
// read the same values as those of a run handed without it, whose trigger
// is decoded from the store's JSON, for values kept as they are and for
// values decoding changes (an integral float becomes an integer).
func TestNewAdmissionReadsTheTriggerAsStored(t *testing.T) {
	t.Parallel()
	e, st, _, _ := eagerSetup(t, `
workflow "echo" {
  when = "trigger.body.n == 2 && trigger.headers['x-a'] == 'b'"
  step "note" {
    uses = "primary.note"
    with = { text = "{{ trigger.body.text }}/{{ trigger.body.n }}/{{ trigger.body.r }}/{{ trigger.query.q }}/{{ trigger.kind }}" }
  }
}`)
	ctx := context.Background()
	output := func(run store.Run) string {
		recs, err := st.StepRecords(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		return string(recs[0].Output)
	}
	for _, n := range []any{int64(2), 2.0} {
		trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"text": "disk full", "n": n, "r": 0.5},
			Headers: map[string]string{"x-a": "b"}, Query: map[string]string{"q": "1"}}

		a, err := e.NewAdmission(ctx, "echo", trig)
		require.NoError(t, err)
		carried, err := e.ExecuteNew(ctx, a)
		require.NoError(t, err)
		require.Equal(t, store.StatusSucceeded, carried.Status, "n = %#v", n)

		run, err := e.NewRun(ctx, "echo", trig)
		require.NoError(t, err)
		decoded, err := e.ExecuteNew(ctx, engine.Admission{Run: run})
		require.NoError(t, err)
		require.Equal(t, store.StatusSucceeded, decoded.Status)

		require.JSONEq(t, `{"text":"disk full/2/0.5/1/webhook"}`, output(carried))
		require.Equal(t, output(decoded), output(carried))
	}
}
