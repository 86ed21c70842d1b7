package retention_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/retention/retentiontest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/internal/testfigures"
)

// pruneRunsEnv sets how many old runs TestPruneKeepsWritesFlowing seeds;
// CI seeds defaultPruneRuns.
const pruneRunsEnv = "HERALD_BENCH_PRUNE"

const defaultPruneRuns = 10_000

// waits is a sorted list of store waits.
type waits []time.Duration

func (w waits) pct(p int) time.Duration {
	return w[min(len(w)-1, len(w)*p/100)].Round(time.Millisecond / 10)
}

func (w waits) String() string {
	return fmt.Sprintf("%d writes, p50 %s, p99 %s, max %s", len(w), w.pct(50), w.pct(99), w[len(w)-1].Round(time.Millisecond/10))
}

// opWaits collects what a store reports through ObserveWaits, by phase
// (0 pruning, 1 baseline) and operation.
type opWaits struct {
	mu    sync.Mutex
	phase int
	ops   [2]map[string]waits
	log   []opEvent
}

type opEvent struct {
	op  string
	end time.Time
	d   time.Duration
}

// around lists the operations over 5 ms that overlapped [from, to].
func (o *opWaits) around(from, to time.Time) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, e := range o.log {
		if e.d > 5*time.Millisecond && e.end.After(from) && e.end.Add(-e.d).Before(to) {
			out = append(out, fmt.Sprintf("%s %s [%s..%s]", e.op, e.d.Round(time.Millisecond/10), e.end.Add(-e.d).Sub(from).Round(time.Millisecond/10), e.end.Sub(from).Round(time.Millisecond/10)))
		}
	}
	return out
}

func (o *opWaits) observe(op string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = append(o.log, opEvent{op, time.Now(), d})
	if o.ops[o.phase] == nil {
		o.ops[o.phase] = map[string]waits{}
	}
	o.ops[o.phase][op] = append(o.ops[o.phase][op], d)
}

// summary gives each reported operation of phase, sorted.
func (o *opWaits) summary(phase int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, op := range []string{"commit", "prune_tx", "vacuum_tx", "checkpoint_pass", "checkpoint"} {
		if w := o.ops[phase][op]; len(w) > 0 {
			slices.Sort(w)
			out = append(out, fmt.Sprintf("%s: %s", op, w))
		}
	}
	return strings.Join(out, "; ")
}

// everyUntil calls fn at every tick of period until stop is closed.
func everyUntil(period time.Duration, stop <-chan struct{}, fn func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		fn()
	}
}

// TestPruneKeepsWritesFlowing prunes old runs from a SQLite store while a
// writer creates a run every 5 ms, as webhooks would, and then goes on
// creating runs as long again with nothing to prune: the baseline. It
// reports each phase's CreateRun waits (queueing for the writer and the
// commit), the store's own steps (its commits, the retention's
// transactions, the checkpointer's passes) and the machine's fsyncs (an
// FsyncProbe beside the file), and requires no CreateRun to wait over
// 100 ms while pruning, the machine's stalls aside: a write's wait less
// the probe's longest stall at the same moment (FsyncProbe.StoreShare)
// stays within 100 ms (see retentiontest.RequireStoreShare for an
// oversubscribed machine, or one on which even the baseline's writes do
// not). Each slow write is printed with both.
func TestPruneKeepsWritesFlowing(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and prunes a store")
	}
	n := defaultPruneRuns
	if v := os.Getenv(pruneRunsEnv); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, pruneRunsEnv)
	}
	path := filepath.Join(t.TempDir(), "herald.db")
	retentiontest.SeedSQLite(t, path, n)
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	probe := retentiontest.StartFsyncProbe(t, filepath.Dir(path))
	ops := &opWaits{}
	st.ObserveWaits(ops.observe)

	type slowWrite struct {
		end  time.Time
		took time.Duration
	}
	var (
		mu      sync.Mutex
		phase   = 0 // 0 pruning, 1 baseline
		sampled [2]waits
		slow    [2][]slowWrite
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		everyUntil(5*time.Millisecond, stop, func() {
			start := time.Now()
			_, _, err := st.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "load", Status: store.StatusQueued,
				Trigger: []byte(`{"kind":"webhook","body":{"text":"alert"}}`), CreatedAt: time.Now()}, "", 0)
			end := time.Now()
			d := end.Sub(start)
			require.NoError(t, err)
			mu.Lock()
			sampled[phase] = append(sampled[phase], d)
			if d > retention.SlowWait {
				slow[phase] = append(slow[phase], slowWrite{end, d})
			}
			mu.Unlock()
		})
	}()
	start := time.Now()
	p := &retention.Pruner{Store: st}
	pruned, err := p.Prune(ctx, 30*24*time.Hour)
	took := time.Since(start)
	require.NoError(t, err)
	require.EqualValues(t, n, pruned)
	pruneEnd := time.Now()
	mu.Lock()
	phase = 1
	mu.Unlock()
	ops.mu.Lock()
	ops.phase = 1
	ops.mu.Unlock()
	time.Sleep(took)
	close(stop)
	<-done
	probe.Stop()

	prune, base := sampled[0], sampled[1]
	slices.Sort(prune)
	slices.Sort(base)
	require.NotEmpty(t, prune)
	require.NotEmpty(t, base)
	testfigures.Report(t, fmt.Sprintf("prune %d runs in %s: CreateRun waits while pruning: %s; baseline, nothing to prune: %s",
		n, took.Round(time.Millisecond), prune, base))
	t.Logf("while pruning: %s; machine: %s", ops.summary(0), retentiontest.FsyncSummary(probe.Between(start, pruneEnd)))
	t.Logf("baseline: %s; machine: %s", ops.summary(1), retentiontest.FsyncSummary(probe.Between(pruneEnd, time.Now())))
	// A write over 100 ms must owe the excess to the machine: its
	// wait less the probe's longest stall at the same moment (the store's
	// share) stays within 100 ms. Each is printed with the store's own
	// operations that overlapped it.
	var unexplained []string
	baseOver := 0
	for ph, name := range []string{"while pruning", "baseline"} {
		for _, w := range slow[ph] {
			stall := probe.Stall(w.end.Add(-w.took), w.end)
			share := probe.StoreShare(w.end, w.took)
			t.Logf("%s: CreateRun waited %s (ended +%s); the machine's longest stall then: %s; the store's share: %s; the store's operations over 5 ms then: %v",
				name, w.took.Round(time.Millisecond/10), w.end.Sub(start).Round(time.Millisecond), stall.Round(time.Millisecond/10),
				share.Round(time.Millisecond/10), ops.around(w.end.Add(-w.took), w.end))
			switch {
			case share <= retention.SlowWait:
			case ph == 0:
				unexplained = append(unexplained, w.took.Round(time.Millisecond/10).String())
			default:
				baseOver++
			}
		}
	}
	retentiontest.RequireStoreShare(t, probe, start, pruneEnd, unexplained, len(prune), baseOver, len(base))
}

// TestPrunePausesForTheWriterNotItsQueue prunes old runs from a SQLite
// store while runs are created faster than the store commits them, so the
// retention's delete transactions queue for the writer before they run.
// The pause between two batches must follow the time a batch held the
// writer, not the time it queued: the store was the webhooks' meanwhile,
// and on a loaded machine, where the queueing is long, counting it too
// stretched the pruning past the serve-level test's deadline
// (TestRetentionPrunesWhileServingWebhooks in cmd/host). Each call's wait and
// the gap before the next call are taken from what the store reports
// (ObserveWaits: "prune_runs", from the call to its last commit, and
// "prune_tx"), and the pauses after the calls that queued long must add up
// to less than those calls.
func TestPrunePausesForTheWriterNotItsQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and prunes a store")
	}
	const batches = 10
	path := filepath.Join(t.TempDir(), "herald.db")
	retentiontest.SeedSQLite(t, path, batches*retention.DefaultBatch)
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	ops := &opWaits{}
	st.ObserveWaits(ops.observe)

	// Four new runs every half millisecond, each write in a goroutine of
	// its own (open loop, as webhooks arrive) and carrying a 4 KiB
	// trigger: the writer's queue is never empty for long.
	trigger := []byte(`{"kind":"webhook","body":{"text":"` + strings.Repeat("x", 4096) + `"}}`)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	writers.Add(1)
	go func() {
		defer writers.Done()
		everyUntil(time.Millisecond/2, stop, func() {
			for range 4 {
				writers.Add(1)
				go func() {
					defer writers.Done()
					_, _, err := st.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "load", Status: store.StatusQueued,
						Trigger: trigger, CreatedAt: time.Now()}, "", 0)
					if err != nil {
						t.Error(err)
					}
				}()
			}
		})
	}()
	p := &retention.Pruner{Store: st}
	pruned, err := p.Prune(ctx, 30*24*time.Hour)
	close(stop)
	writers.Wait()
	require.NoError(t, err)
	require.EqualValues(t, batches*retention.DefaultBatch, pruned)

	// Each call of PruneRuns as the store reports it: how long it took
	// (queueing included) and how long its transactions held the writer
	// (the "prune_tx" reported during the call).
	type call struct {
		opEvent
		held time.Duration
	}
	ops.mu.Lock()
	var calls []call
	var held time.Duration
	for _, e := range ops.log {
		switch e.op {
		case "prune_tx":
			held += e.d
		case "prune_runs":
			calls = append(calls, call{e, held})
			held = 0
		}
	}
	ops.mu.Unlock()
	require.GreaterOrEqual(t, len(calls), batches)
	// A call queued long when it took 50 ms more than it held the writer;
	// the pauses after such calls must add up to less than the calls:
	// each is the pruner's 20 ms, or the time the call held the writer,
	// plus the timer's lateness on a loaded machine (summed, so that one
	// late timer does not decide). Counting the queueing, each pause was
	// at least as long as its call.
	const long = 50 * time.Millisecond
	var queued int
	var took, paused time.Duration
	for i, c := range calls[:len(calls)-1] {
		next := calls[i+1]
		gap := next.end.Add(-next.d).Sub(c.end)
		t.Logf("batch %d: took %s, held the writer %s, then a pause of %s", i+1,
			c.d.Round(time.Millisecond/10), c.held.Round(time.Millisecond/10), gap.Round(time.Millisecond/10))
		if c.d-c.held < long {
			continue
		}
		queued++
		took += c.d
		paused += gap
	}
	if queued == 0 {
		// A fast machine's writer keeps up with these writes: no batch
		// queued, and there is nothing to compare here.
		// TestPrunePausesForTheHeldTime checks the rule without load.
		t.Skipf("no batch queued for the writer over %s on this machine", long)
	}
	require.Less(t, paused, took, "the pauses after the %d batches that queued for the writer follow the time they held it, not the time they took", queued)
}

// heldStore is a store whose PruneRunsHeld takes took and reports that it
// held the writer for held, batches times, then finds nothing left.
type heldStore struct {
	store.Store
	took, held time.Duration
	batches    int
	calls      []time.Time // when each call began
}

func (s *heldStore) PruneRunsHeld(_ context.Context, _ time.Time, limit int) (int64, time.Duration, error) {
	s.calls = append(s.calls, time.Now())
	time.Sleep(s.took)
	if len(s.calls) > s.batches {
		return 0, s.held, nil
	}
	return int64(limit), s.held, nil
}

// TestPrunePausesForTheHeldTime: between two batches the pruner pauses
// for the time the store reports the batch held its writer (at least
// Pause), not for the time the batch took, which includes its queueing
// behind other writes. Without load: the store's calls take 200 ms and
// report 5 ms held, so the pauses are Pause (20 ms) plus the timer's
// lateness, against 200 ms each when counted from the time taken.
func TestPrunePausesForTheHeldTime(t *testing.T) {
	st := &heldStore{took: 200 * time.Millisecond, held: 5 * time.Millisecond, batches: 3}
	p := &retention.Pruner{Store: st, Batch: 10, Pause: 20 * time.Millisecond}
	n, err := p.Prune(context.Background(), time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 30, n)
	require.Len(t, st.calls, 4)
	var paused time.Duration
	for i := 1; i < len(st.calls); i++ {
		paused += st.calls[i].Sub(st.calls[i-1]) - st.took
	}
	require.GreaterOrEqual(t, paused, 3*p.Pause, "each pause is at least Pause")
	require.Less(t, paused, 3*st.took, "the pauses follow the time held (5 ms, so Pause), not the time taken (200 ms)")
}
