package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/cluster"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// sender is a provider whose send action counts its calls and, while gate
// is set, waits for it to close, ignoring the call's context, as a replica
// that stopped answering does.
type sender struct {
	calls atomic.Int64
	gate  atomic.Pointer[chan struct{}]
}

func (s *sender) Spec() *sdk.Spec {
	return &sdk.Spec{Type: "sender", Version: "0.0.1",
		Actions: []sdk.Action{{Name: "send", Input: sdk.Fields(sdk.String("to", "")), Output: sdk.Fields(),
			Run: func(context.Context, *sdk.Call) (any, error) {
				s.calls.Add(1)
				if g := s.gate.Load(); g != nil {
					<-*g
				}
				return map[string]any{}, nil
			}}}}
}

// hold makes the next calls wait until the returned func is called (which
// the test's cleanup also does).
func (s *sender) hold(t *testing.T) func() {
	g := make(chan struct{})
	s.gate.Store(&g)
	var once atomic.Bool
	release := func() {
		if once.CompareAndSwap(false, true) {
			s.gate.Store(nil)
			close(g)
		}
	}
	t.Cleanup(release)
	return release
}

// eagerSetup is setup with a real engine on each replica, executing the
// project src on a sender provider, River's jobs and eager runs alike.
func eagerSetup(t testing.TB, src string) (*bundle, *sender) {
	b := setup(t)
	plugin := &sender{}
	srv := sdk.NewServer(plugin, nil)
	require.NoError(t, srv.Configure(context.Background(), "p", json.RawMessage(`{}`)))
	proj, diags := config.LoadSources([]config.Source{{Name: "p.hcl", Data: []byte(`
provider "p" {
  type = "sender"
}
` + src)}}, config.LoadOptions{Spec: func(string) (*sdk.Spec, error) { return plugin.Spec(), nil }})
	require.False(t, diags.HasErrors(), "%v", diags)
	b.project = proj
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) { return r.engine.Execute(ctx, id) }
	b.executeNew = func(r *replica, ctx context.Context, a engine.Admission) (store.Run, error) {
		return r.engine.ExecuteNew(ctx, a)
	}
	b.client = func(context.Context, string) (sdk.Client, error) { return srv, nil }
	return b, plugin
}

// startEngine starts a replica of b with its engine.
func (b *bundle) startEngine(name string, slice time.Duration) *replica {
	b.t.Helper()
	r := b.start(name, slice)
	e, err := engine.New(engine.Options{Project: b.project, Store: r.c.Store(), Owner: name,
		RateLimiter: r.c.RateLimiter(), Observer: r.c.Observe, Client: b.client})
	require.NoError(b.t, err)
	r.engine = e
	return r
}

// admit executes a run of workflow eagerly on r, as a webhook does, and
// returns it as its creation stored it.
func (r *replica) admit(t *testing.T, workflow string) store.Run {
	t.Helper()
	trig := engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}}
	require.True(t, r.engine.EagerEligible(workflow, trig))
	run, err := r.engine.NewRun(context.Background(), workflow, trig)
	require.NoError(t, err)
	stored, err := r.admitRun(t, run)
	require.NoError(t, err)
	return stored
}

// status polls run id until it has status, failing t after d.
func (r *replica) status(t *testing.T, id string, want store.Status, d time.Duration) store.Run {
	t.Helper()
	var run store.Run
	waitFor(t, d, "run "+id+" "+string(want), func() bool {
		var err error
		run, err = r.st.GetRun(context.Background(), id)
		require.NoError(t, err)
		return run.Status == want
	})
	return run
}

// workflowW returns workflow "w" of steps each sending once, with timeout.
func workflowW(timeout string, steps ...string) string {
	src := "workflow \"w\" {\n"
	for _, s := range steps {
		src += fmt.Sprintf("  step %q {\n    uses    = \"p.send\"\n    with    = { to = \"{{ trigger.body.to }}\" }\n    timeout = %q\n  }\n", s, timeout)
	}
	return src + "}\n"
}

var oneStep = workflowW("20s", "s")

func TestEagerRunLeavesNoJob(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	a := b.startEngine("a", time.Minute)
	run := a.admit(t, "w")
	require.Equal(t, store.StatusRunning, run.Status, "created with its first attempt started")
	a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	require.EqualValues(t, 1, plugin.calls.Load())
	require.Zero(t, a.calls.Load(), "River never executed it")
	require.Empty(t, jobs(t, a.st, run.ID), "the transaction that ended the run deleted its job")
}

// executingEager starts a replica executing a one-step project and admits
// a run whose call hangs until release: the run executes, its job held
// back.
func executingEager(t *testing.T) (a *replica, plugin *sender, release func(), run store.Run) {
	t.Helper()
	b, plugin := eagerSetup(t, oneStep)
	a = b.startEngine("a", time.Minute)
	release = plugin.hold(t)
	run = a.admit(t, "w")
	waitFor(t, 10*time.Second, "the call", func() bool { return plugin.calls.Load() == 1 })
	return a, plugin, release, run
}

// TestEagerRunHeldJobWhileExecuting: the batch job inserted with an eager
// run is held back while the run executes, and when it falls due before
// the run ends (its lease overrun), its worker queues the run's own job,
// whose execution on the same replica finds the run executing and
// snoozes: the provider is called once.
func TestEagerRunHeldJobWhileExecuting(t *testing.T) {
	t.Parallel()
	a, plugin, release, run := executingEager(t)
	require.Equal(t, map[string]int{"scheduled": 1}, jobs(t, a.st, run.ID), "held back, not available")

	_, err := a.st.Pool().Exec(context.Background(), `UPDATE `+a.st.Schema()+`.river_job
		SET state = 'available', scheduled_at = now() WHERE kind = $1
		AND args->>'guard' = (SELECT guard FROM `+a.st.Schema()+`.runs WHERE id = $2)`, cluster.BatchJobKind, run.ID)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "River's try", func() bool { return a.calls.Load() >= 1 })
	release()
	a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	waitFor(t, 10*time.Second, "no live job", func() bool {
		j := jobs(t, a.st, run.ID)
		return j["scheduled"] == 0 && j["available"] == 0 && j["running"] == 0
	})
	require.EqualValues(t, 1, plugin.calls.Load(), "one send")
}

// TestEagerRunResumedAfterItsReplicaStops: a replica that stops answering
// after it created a run with its first attempt started (one commit) leaves
// the run to another replica once the lease of its held job is over; the
// other finds the attempt in doubt, as after any attempt start, and does
// not send again.
func TestEagerRunResumedAfterItsReplicaStops(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, workflowW("1s", "s"))
	a := b.startEngine("a", time.Second)
	other := b.startEngine("b", time.Second)
	plugin.hold(t) // a hangs in its call
	run := a.admit(t, "w")
	waitFor(t, 10*time.Second, "the call", func() bool { return plugin.calls.Load() == 1 })
	lease := time.Second + time.Second + cluster.LeaseMargin
	start := time.Now()
	// The held job falls due at the end of the lease. a's River client
	// still fetches (only its execution hangs, and keeps the run's
	// heartbeat fresh, which a resume does not look at); when it takes the
	// job it finds the run executing there and snoozes it for 50 ms, so
	// b's next fetch poll takes it: 7.2–12.6 s (median 7.5 s) in 10 runs
	// on a quiet machine. With a snooze of a second, a's own next poll
	// took the job back about 19 times in 20 and b resumed the run after
	// 25–68 s, so the bound (15 s over the lease, for a loaded machine)
	// fails on that.
	got := other.status(t, run.ID, store.StatusNeedsAttention, lease+15*time.Second)
	require.GreaterOrEqual(t, time.Since(start), lease-2*time.Second, "not before the lease is over")
	require.GreaterOrEqual(t, other.calls.Load(), int64(1), "resumed by River on b, a still hung")
	require.EqualValues(t, 1, plugin.calls.Load(), "an attempt in doubt is not sent again")
	atts, err := other.st.Attempts(context.Background(), run.ID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	t.Logf("resumed after %s: %s (%s)", time.Since(start).Round(time.Millisecond), got.Status, got.Reason)
}

// TestEagerSliceHandsTheRunBack: an eager run whose slice ends before the
// run does hands its job back to River at once (not at the end of its
// lease), and River executes the rest.
func TestEagerSliceHandsTheRunBack(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, workflowW("20s", "one", "two"))
	a := b.startEngine("a", 500*time.Millisecond)
	release := plugin.hold(t)
	run := a.admit(t, "w")
	waitFor(t, 10*time.Second, "the call", func() bool { return plugin.calls.Load() == 1 })
	time.Sleep(time.Second) // the slice ends during the call
	release()
	start := time.Now()
	a.status(t, run.ID, store.StatusSucceeded, 15*time.Second)
	require.Less(t, time.Since(start), 15*time.Second, "well before the held job's lease (41 s) was over")
	require.GreaterOrEqual(t, a.calls.Load(), int64(1), "River executed the rest")
	require.EqualValues(t, 2, plugin.calls.Load(), "each step sent once")
}

// TestEagerHeldJobIsRiversJob: the held job an eager create inserts with
// its own statement (in the batch that creates the run), a guard the run
// names, is the row River's Insert of BatchArgs held back would write, and
// Adopt leaves the runs it guards alone: without that, a replica starting
// while another executes its eager runs queued a second job for each,
// which River's uniqueness does not catch (the guard's job is not the
// run's).
func TestEagerHeldJobIsRiversJob(t *testing.T) {
	t.Parallel()
	a, plugin, release, run := executingEager(t)
	ctx := context.Background()

	adopted, err := a.c.Adopt(ctx)
	require.NoError(t, err)
	require.Zero(t, adopted, "the executing run is named by its held batch's job")
	require.Equal(t, map[string]int{"scheduled": 1}, jobs(t, a.st, run.ID))

	var guard string
	require.NoError(t, a.st.Pool().QueryRow(ctx, `SELECT guard FROM `+a.st.Schema()+`.runs WHERE id = $1`, run.ID).Scan(&guard))
	require.NotEmpty(t, guard, "the run names its guard")
	other := "0123456789abcdef01234567"
	_, err = a.c.Client().Insert(ctx, cluster.BatchArgs{Guard: other},
		&river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	row := func(guard string) []any {
		var (
			kind, queue, metadata, tags, state string
			uniqueKey                          []byte
			uniqueStates                       *string
			priority, maxAttempts, attempt     int
			args                               map[string]any
		)
		require.NoError(t, a.st.Pool().QueryRow(ctx, `SELECT kind, queue, metadata::text, tags::text, state::text,
			unique_key, unique_states::text, priority, max_attempts, attempt, args
			FROM `+a.st.Schema()+`.river_job WHERE args->>'guard' = $1`, guard).
			Scan(&kind, &queue, &metadata, &tags, &state, &uniqueKey, &uniqueStates, &priority, &maxAttempts, &attempt, &args))
		delete(args, "guard")
		return []any{kind, queue, metadata, tags, state, uniqueKey, uniqueStates, priority, maxAttempts, attempt, args}
	}
	require.Equal(t, row(other), row(guard))

	release()
	a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	require.Empty(t, jobs(t, a.st, run.ID), "the run's end deleted its held job")
	require.EqualValues(t, 1, plugin.calls.Load())
}

// TestEagerCreateIsOneRoundTrip: an eager create sends its run, its first
// attempt's start and its held-back job in one batch with no BEGIN and no
// COMMIT (one implicit transaction), and the run's end is one more: a
// one-step eager run costs two round trips.
func TestEagerCreateIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	rt := &pgtest.RoundTrips{}
	b.tracer = rt
	b.executeNew = func(r *replica, ctx context.Context, a engine.Admission) (store.Run, error) {
		return r.engine.ExecuteNew(rt.Context(ctx), a)
	}
	a := b.startEngine("a", time.Minute)
	run := a.admit(t, "w")
	a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
	require.EqualValues(t, 1, plugin.calls.Load())
	stmts := rt.Statements()
	require.Len(t, stmts, 2, "%q", stmts)
	{
		n := 0
		for _, st := range stmts {
			n += strings.Count(st, ";\n") + 1
		}
		t.Logf("%d round trips, %d statements", len(stmts), n)
	}
	require.Contains(t, stmts[0], ".runs (id, workflow", "the run")
	require.Contains(t, stmts[0], "first_status", "the attempt's start goes with the run")
	require.Contains(t, stmts[0], "river_job", "the held job goes with the run")
	for _, st := range stmts {
		require.NotContains(t, strings.ToUpper(st), "BEGIN", "%q", stmts)
		require.NotContains(t, strings.ToUpper(st), "COMMIT", "%q", stmts)
	}
	require.Empty(t, jobs(t, a.st, run.ID), "the run's end deleted its held job")
}

// admitRun executes run (made by the engine's NewRun) eagerly on r and
// returns the outcome of its creation.
func (r *replica) admitRun(t *testing.T, run store.Run) (store.Run, error) {
	t.Helper()
	type outcome struct {
		run store.Run
		err error
	}
	admitted := make(chan outcome, 1)
	require.True(t, r.c.StartEager(engine.Admission{Run: run,
		Admitted: func(run store.Run, _ bool, err error) { admitted <- outcome{run, err} }}), "a worker is free")
	o := <-admitted
	return o.run, o.err
}

// newRun returns a run of workflow "w" that r's engine would execute, not
// stored.
func (r *replica) newRun(t *testing.T) store.Run {
	t.Helper()
	run, err := r.engine.NewRun(context.Background(), "w",
		engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}})
	require.NoError(t, err)
	return run
}

// TestEagerCreateRefusedWritesNothing: an eager create that one-round-trip
// batch cannot make whole (a taken run ID) writes none of its statements,
// and the exact way then reports why; the creates that shared its batch
// are made on their own. With the batch's statements unchecked, the taken
// ID's create would start an attempt on the stored run and hold a job for
// it.
func TestEagerCreateRefusedWritesNothing(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	a := b.startEngine("a", time.Minute)
	ctx := context.Background()
	release := plugin.hold(t)

	stored, _, err := a.st.CreateRun(ctx, a.newRun(t), "", 0) // with no job: left alone
	require.NoError(t, err)
	taken := a.newRun(t)
	taken.ID = stored.ID

	// Admitted together, so that they may share a batch with good ones.
	const good = 6
	runs := []store.Run{taken}
	for range good {
		runs = append(runs, a.newRun(t))
	}
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Go(func() { _, errs[i] = a.admitRun(t, run) })
	}
	wg.Wait()
	require.ErrorIs(t, errs[0], store.ErrConflict, "the taken ID")
	for i := 1; i < len(runs); i++ {
		require.NoError(t, errs[i], "create %d", i)
	}

	got, err := a.st.GetRun(ctx, stored.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, got.Status, "the stored run is untouched")
	atts, err := a.st.Attempts(ctx, stored.ID)
	require.NoError(t, err)
	require.Empty(t, atts, "no attempt started on the stored run")
	require.Empty(t, jobs(t, a.st, stored.ID), "no job held for it")

	release()
	for _, run := range runs[1:] {
		a.status(t, run.ID, store.StatusSucceeded, 10*time.Second)
		require.Empty(t, jobs(t, a.st, run.ID))
	}
	require.EqualValues(t, good, plugin.calls.Load())
}

// TestRiverRunCreatedHereIsNotRead: a run created for River (no eager
// execution) and executed by the River worker of the replica that created
// it is handed to the engine as its create stored it (ExecuteRun): no
// round trip reads it, and it ends as any run does.
func TestRiverRunCreatedHereIsNotRead(t *testing.T) {
	t.Parallel()
	b, plugin := eagerSetup(t, oneStep)
	rt := &pgtest.RoundTrips{}
	b.tracer = rt
	b.executeNew = nil // every run goes through River
	b.execute = func(r *replica, ctx context.Context, id string) (store.Run, error) {
		return r.engine.Execute(rt.Context(ctx), id)
	}
	b.executeRun = func(r *replica, ctx context.Context, run store.Run) (store.Run, error) {
		return r.engine.ExecuteRun(rt.Context(ctx), run)
	}
	a := b.startEngine("a", time.Minute)
	run, err := a.engine.NewRun(context.Background(), "w",
		engine.Trigger{Kind: engine.KindWebhook, Body: map[string]any{"to": "+4917"}})
	require.NoError(t, err)
	_, _, err = a.c.Store().CreateRun(context.Background(), run, "", 0)
	require.NoError(t, err)
	// Polled past the store: its reads would fill the run cache that
	// the execution must not need.
	waitFor(t, 10*time.Second, "run "+run.ID+" succeeded", func() bool {
		var status string
		err := a.st.Pool().QueryRow(context.Background(), `SELECT status FROM `+
			pgx.Identifier{a.st.Schema(), "runs"}.Sanitize()+` WHERE id = $1`, run.ID).Scan(&status)
		require.NoError(t, err)
		return status == string(store.StatusSucceeded)
	})
	require.EqualValues(t, 1, plugin.calls.Load())
	require.Zero(t, rt.Sent("FROM \""+a.st.Schema()+"\".runs r WHERE r.id"), "%q", rt.Statements())
	require.EqualValues(t, 1, a.handedCalls.Load(), "handed by its creator")
	require.Zero(t, a.calls.Load()-a.handedCalls.Load(), "never executed by ID")
	require.NotEmpty(t, rt.Statements(), "its writes were traced")
}
