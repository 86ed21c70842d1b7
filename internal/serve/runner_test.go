package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// journal records what happened, in order, across goroutines.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.entries = append(j.entries, s)
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries...)
}

// journaledStore is a SQLite store that records each combined creation
// once it is durable.
type journaledStore struct {
	*sqlitestore.Store
	j *journal
}

func (s journaledStore) CreateStartAttemptRun(ctx context.Context, run store.Run, key string, ttl time.Duration, sk store.StepKey, start store.AttemptStart) (store.Run, bool, error) {
	got, existed, err := s.Store.CreateStartAttemptRun(ctx, run, key, ttl, sk, start)
	if err == nil {
		s.j.add("created " + run.ID)
	}
	return got, existed, err
}

// blocker is a provider whose send is recorded and then waits for release.
type blocker struct {
	j       *journal
	release chan struct{}
	// senders, when set, records the goroutine each send runs on.
	senders *journal
	// onSend, when set, is called with each send's call.
	onSend func(*sdk.Call)
}

func (b blocker) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "blocker", Version: "0.0.1", Actions: []sdk.Action{{
		Name:   "send",
		Input:  sdk.Fields(sdk.String("to", "Recipient.")),
		Output: sdk.Schema{AdditionalFields: true},
		Run: func(ctx context.Context, c *sdk.Call) (any, error) {
			b.j.add("sent")
			if b.onSend != nil {
				b.onSend(c)
			}
			if b.senders != nil {
				b.senders.add(goroutine())
			}
			select {
			case <-b.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]any{"ok": true}, nil
		},
	}}}
}

// blockerSource is a project of two one-step workflows sending through a
// blocker: w starts its runs eagerly (Engine.EagerEligible), limited has a
// concurrency limit, so its runs are created queued and then handed over.
const blockerSource = `provider "p" { type = "blocker" }
workflow "w" {
  step "s" {
    uses = "p.send"
    with = { to = "a" }
  }
}
workflow "limited" {
  concurrency { limit = 100 }
  step "s" {
    uses = "p.send"
    with = { to = "a" }
  }
}`

// blockerRunner is a local runner with the given number of workers,
// executing blockerSource against prov with a SQLite store that journals
// into j. It is started, and stopped when the test ends.
func blockerRunner(t testing.TB, ctx context.Context, prov blocker, workers int) (*localRunner, *config.Project, journaledStore) {
	t.Helper()
	lite, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	require.NoError(t, err)
	t.Cleanup(func() { lite.Close() })
	st := journaledStore{Store: lite, j: prov.j}

	srv := sdk.NewServer(prov, nil)
	p, diags := config.LoadSources([]config.Source{{Name: "test.hcl", Data: []byte(blockerSource)}}, config.LoadOptions{
		Spec: func(string) (*sdk.Spec, error) { return prov.Spec(), nil },
	})
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NoError(t, srv.Configure(ctx, "p", json.RawMessage(`{}`)))
	e, err := engine.New(engine.Options{Project: p, Store: st, Owner: "host-a",
		Client: func(context.Context, string) (sdk.Client, error) { return srv, nil }})
	require.NoError(t, err)

	disp := newDispatcher(e, func() *config.Project { return p }, hclog.NewNullLogger(), 8)
	l := &localRunner{disp: disp, engine: func() *engine.Engine { return e }, store: func() store.Store { return st },
		workers: workers, wait: time.Second, logger: hclog.NewNullLogger()}
	require.NoError(t, l.start(ctx))
	t.Cleanup(func() { l.stop(5 * time.Second) })
	return l, p, st
}

// A run admitted while a worker is free is answered once its creation,
// made with its first attempt's start, is durable, and before its call
// ends; a run admitted while no worker is free is created queued, as
// before, and executed when a worker frees up.
func TestSubmitAnswersAfterTheEagerCommit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &journal{}
	prov := blocker{j: j, release: make(chan struct{})}
	l, p, st := blockerRunner(t, ctx, prov, 1)
	disp := l.disp
	wf := p.Workflows["w"]
	c := creation{engine: l.engine(), workflow: "w", trig: engine.Trigger{Kind: engine.KindWebhook}}

	// The worker is free once it waits for work: the run starts eagerly.
	require.Eventually(t, func() bool { return disp.idleWorkers() == 1 }, 5*time.Second, time.Millisecond)
	first, existed, err := l.submit(ctx, wf, c)
	require.NoError(t, err)
	require.False(t, existed)
	entries := j.list()
	require.NotEmpty(t, entries)
	require.Equal(t, "created "+first.ID, entries[0], "answered once the run's creation with its attempt is durable")
	got, err := st.GetRun(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, got.Status, "answered before the run ends")
	attempts, err := st.Attempts(ctx, first.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)

	// The only worker is busy with the first run's call: the next run is
	// created queued and waits.
	require.Eventually(t, func() bool { return len(j.list()) == 2 }, 5*time.Second, time.Millisecond, "the first run's call is made")
	second, existed, err := l.submit(ctx, wf, c)
	require.NoError(t, err)
	require.False(t, existed)
	got, err = st.GetRun(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, got.Status)

	close(prov.release)
	for _, id := range []string{first.ID, second.ID} {
		require.Eventually(t, func() bool {
			got, err := st.GetRun(ctx, id)
			return err == nil && got.Status == store.StatusSucceeded
		}, 10*time.Second, 5*time.Millisecond)
	}
	require.Equal(t, []string{"created " + first.ID, "sent", "sent"}, j.list(), "the queued run was created by CreateRun, not eagerly")
}

// TestAdmitWaitsForASlotThenRefuses checks the dispatcher's bounded
// admission: a free slot admits at once; with every slot taken admit waits
// up to its wait and answers ErrBusy, takes a slot released while it waits,
// and ends with its context.
func TestAdmitWaitsForASlotThenRefuses(t *testing.T) {
	t.Parallel()
	d := newDispatcher(nil, func() *config.Project { return nil }, hclog.NewNullLogger(), 1)
	ctx := context.Background()
	require.NoError(t, d.admit(ctx, "wf", 0))

	start := time.Now()
	require.ErrorIs(t, d.admit(ctx, "wf", 50*time.Millisecond), ErrBusy)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, d.admit(canceled, "wf", time.Minute), context.Canceled)

	go func() {
		time.Sleep(20 * time.Millisecond)
		d.release("wf")
	}()
	require.NoError(t, d.admit(ctx, "wf", time.Minute))
	d.mu.Lock()
	require.Equal(t, 1, d.admitted["wf"])
	d.mu.Unlock()
}

// goroutine returns the calling goroutine's header in a stack trace, which
// names it by its id ("goroutine 42 [running]:").
func goroutine() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return string(buf[:bytes.IndexByte(buf, '[')])
}

// TestRunsGoToTheWorkerIdleLast checks that the dispatcher hands a run to
// the worker that went idle last: one run at a time, handed over eagerly
// (w) or created queued and then handed over (limited), is executed by the
// same worker each time, so the other workers' stacks, shrunk by the GC
// while they wait, are not grown again.
func TestRunsGoToTheWorkerIdleLast(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const workers = 8
	release := make(chan struct{})
	close(release)
	prov := blocker{j: &journal{}, release: release, senders: &journal{}}
	l, p, st := blockerRunner(t, ctx, prov, workers)

	for _, name := range []string{"w", "limited"} {
		wf := p.Workflows[name]
		c := creation{engine: l.engine(), workflow: name, trig: engine.Trigger{Kind: engine.KindWebhook}}
		for range 3 * workers {
			require.Eventually(t, func() bool { return l.disp.idleWorkers() == workers }, 5*time.Second, time.Millisecond)
			run, _, err := l.submit(ctx, wf, c)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				got, err := st.GetRun(ctx, run.ID)
				return err == nil && got.Status == store.StatusSucceeded
			}, 10*time.Second, time.Millisecond)
		}
	}
	sent := prov.senders.list()
	require.Len(t, sent, 6*workers)
	distinct := map[string]bool{}
	for _, g := range sent {
		distinct[g] = true
	}
	require.Len(t, distinct, 1, "one worker executes runs that come one at a time: %v", sent)
}

// TestStopExecutesARunHandedOverAsItStops checks that a run handed to a
// worker whose context has just ended is still executed, so that its
// submitter is answered: the worker is stopped while it waits for work,
// and the run is handed to it before it takes itself off the idle stack.
func TestStopExecutesARunHandedOverAsItStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	close(release)
	prov := blocker{j: &journal{}, release: release}
	l, _, _ := blockerRunner(t, ctx, prov, 1)
	d := l.disp
	require.Eventually(t, func() bool { return d.idleWorkers() == 1 }, 5*time.Second, time.Millisecond)

	require.NoError(t, d.admit(ctx, "w", time.Second))
	ea := &eagerAdmission{done: make(chan struct{})}
	var err error
	ea.fresh, err = l.engine().NewAdmission(ctx, "w", engine.Trigger{Kind: engine.KindWebhook})
	require.NoError(t, err)
	ea.fresh.Admitted = ea.admitted

	d.pool.Lock()
	l.stopWork()
	// The worker has seen its context end and waits to leave the stack.
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("(*dispatcher).leave"))
	}, 5*time.Second, time.Millisecond)
	require.True(t, d.giveLocked(job{id: ea.fresh.Run.ID, workflow: "w", fresh: &ea.fresh}))
	d.pool.Unlock()
	select {
	case <-ea.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run handed over as the worker stopped was not executed")
	}
	d.wait()
}
