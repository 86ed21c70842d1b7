package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// gatedSync is a syncer's fsync that a test holds: each call reports on
// entered and waits for its outcome on release (nil fsyncs the file).
type gatedSync struct {
	entered chan struct{}
	release chan error
}

func (g *gatedSync) sync(f *os.File) error {
	g.entered <- struct{}{}
	if err := <-g.release; err != nil {
		return err
	}
	return f.Sync()
}

// enter waits until the syncer calls the gate.
func (g *gatedSync) enter(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the syncer never synced")
	}
}

// openGated opens a store in a new temporary directory whose fsyncs the
// returned gate holds, letting the one Open makes pass.
func openGated(t *testing.T) (*Store, *gatedSync) {
	t.Helper()
	g := &gatedSync{entered: make(chan struct{}), release: make(chan error)}
	opened := make(chan error, 1)
	var s *Store
	go func() {
		var err error
		s, err = openConfig(context.Background(), filepath.Join(t.TempDir(), "herald.db"), Options{},
			config{group: maxGroup, pipelined: true, syncFile: g.sync})
		opened <- err
	}()
	g.enter(t)
	g.release <- nil
	require.NoError(t, <-opened)
	t.Cleanup(func() {
		// Let whatever fsync is still asked for pass, so Close returns.
		go func() {
			for range g.entered {
				g.release <- nil
			}
		}()
		s.Close()
		close(g.entered)
	})
	return s, g
}

// openPipelined opens a pipelined store in a new temporary directory,
// closed when t ends.
func openPipelined(t *testing.T) *Store {
	t.Helper()
	s, err := openConfig(context.Background(), filepath.Join(t.TempDir(), "herald.db"), Options{},
		config{group: maxGroup, pipelined: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// requireWaiting fails t when result holds an answer already.
func requireWaiting(t *testing.T, result <-chan error, what string) {
	t.Helper()
	select {
	case err := <-result:
		t.Fatalf("%s answered (%v) before the fsync that makes it durable", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// queuedRun returns a queued run of workflow w.
func queuedRun() store.Run {
	return store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
}

// TestCallersAreAnsweredOnlyAfterTheSync holds the WAL's fsync: no caller
// is answered before an fsync begun after its group committed has
// succeeded. Meanwhile the writer applies the next group, the writes that
// arrive joining it, and commits it as soon as the fsync ends.
func TestCallersAreAnsweredOnlyAfterTheSync(t *testing.T) {
	t.Parallel()
	s, g := openGated(t)
	ctx := t.Context()
	visible := func(r store.Run) bool { _, err := s.GetRun(ctx, r.ID); return err == nil }

	first := queuedRun()
	firstDone := async(func() error { _, _, err := s.CreateRun(ctx, first, "", 0); return err })
	g.enter(t) // first's group committed; its fsync runs
	requireWaiting(t, firstDone, "a write whose fsync runs")
	require.True(t, visible(first), "readers see a committed group before its fsync")

	groups := s.w.groups.Load()
	second, third := queuedRun(), queuedRun()
	secondDone := async(func() error { _, _, err := s.CreateRun(ctx, second, "", 0); return err })
	require.Eventually(t, func() bool { return s.w.groups.Load() == groups+1 }, 10*time.Second, time.Millisecond,
		"the writer begins the next group while the fsync runs")
	thirdDone := async(func() error { _, _, err := s.CreateRun(ctx, third, "", 0); return err })
	requireWaiting(t, thirdDone, "a write whose group waits for the running fsync")
	require.False(t, visible(second), "the group is held open while the fsync runs")
	require.False(t, visible(third))

	g.release <- nil
	require.NoError(t, <-firstDone)
	g.enter(t) // second and third committed; their fsync runs
	require.True(t, visible(second))
	require.True(t, visible(third))
	require.Equal(t, groups+1, s.w.groups.Load(), "second and third shared one transaction")
	requireWaiting(t, secondDone, "a write whose fsync runs")
	requireWaiting(t, thirdDone, "a write whose fsync runs")
	g.release <- nil
	require.NoError(t, <-secondDone)
	require.NoError(t, <-thirdDone)
}

// TestRefusalWaitsForTheSync checks that a write refused on the strength
// of a group not yet durable is answered only after that group's fsync:
// a duplicate run ID is reported once the first run is on disk.
func TestRefusalWaitsForTheSync(t *testing.T) {
	t.Parallel()
	s, g := openGated(t)
	ctx := t.Context()
	run := queuedRun()
	created := async(func() error { _, _, err := s.CreateRun(ctx, run, "", 0); return err })
	g.enter(t)
	refused := async(func() error { _, _, err := s.CreateRun(ctx, run, "", 0); return err })
	requireWaiting(t, refused, "a refusal resting on a group whose fsync runs")
	g.release <- nil
	require.NoError(t, <-created)
	g.enter(t)
	g.release <- nil
	require.ErrorIs(t, <-refused, store.ErrConflict)
}

// TestFailedSyncFailsTheStore fails the WAL's fsync: the writes waiting on
// it, those applied while it ran (rolled back), and every write made later
// return an error naming the cause; no fsync is tried again; Ping reports
// it.
func TestFailedSyncFailsTheStore(t *testing.T) {
	t.Parallel()
	s, g := openGated(t)
	ctx := t.Context()
	cause := errors.New("injected: EIO")

	first, second := queuedRun(), queuedRun()
	firstDone := async(func() error { _, _, err := s.CreateRun(ctx, first, "", 0); return err })
	g.enter(t)
	groups := s.w.groups.Load()
	secondDone := async(func() error { _, _, err := s.CreateRun(ctx, second, "", 0); return err })
	require.Eventually(t, func() bool { return s.w.groups.Load() == groups+1 }, 10*time.Second, time.Millisecond)
	g.release <- cause

	for _, done := range []<-chan error{firstDone, secondDone} {
		err := <-done
		require.ErrorIs(t, err, cause, "the waiting writes get the fsync's error")
		require.ErrorIs(t, err, store.ErrUnavailable)
		require.ErrorIs(t, err, errFailed)
	}
	_, err := s.GetRun(ctx, second.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a group open when the store failed is rolled back")
	select {
	case <-g.entered:
		t.Fatal("an fsync was tried again after one failed")
	default:
	}

	for _, write := range []func() error{
		func() error { _, _, err := s.CreateRun(ctx, queuedRun(), "", 0); return err },
		func() error {
			return s.w.doRaw(ctx, func(context.Context, *sql.Conn) error { return nil })
		},
		func() error {
			_, err := s.w.doBackground(ctx, func(context.Context, *wtx) error { return nil }, nil)
			return err
		},
	} {
		err := write()
		require.ErrorIs(t, err, cause, "every later write names the cause")
		require.ErrorIs(t, err, store.ErrUnavailable)
	}
	require.ErrorContains(t, s.Ping(ctx), "injected: EIO")
	require.ErrorIs(t, s.Ping(ctx), store.ErrUnavailable)
}

// TestQueuedWritesFailWithTheStore fails the fsync while writes wait in
// the queue for the writer's next group: the writer runs none of them.
func TestQueuedWritesFailWithTheStore(t *testing.T) {
	t.Parallel()
	s, g := openGated(t)
	ctx := t.Context()
	cause := errors.New("injected: ENOSPC")
	firstDone := async(func() error { _, _, err := s.CreateRun(ctx, queuedRun(), "", 0); return err })
	g.enter(t)
	p := plugWriter(t, s)
	// A raw write ends the plug's group: the writes from it on wait for
	// the next one.
	ran := false
	rawDone := async(func() error {
		return s.w.doRaw(ctx, func(context.Context, *sql.Conn) error { ran = true; return nil })
	})
	waitQueued(t, s, 1)
	queued := queuedRun()
	queuedDone := async(func() error { _, _, err := s.CreateRun(ctx, queued, "", 0); return err })
	waitQueued(t, s, 2)
	g.release <- cause
	require.ErrorIs(t, <-firstDone, cause)
	p.pull()
	require.ErrorIs(t, <-p.done, cause, "the plug's group, open when the store failed, is rolled back")
	require.ErrorIs(t, <-rawDone, cause)
	require.ErrorIs(t, <-queuedDone, cause)
	require.False(t, ran, "a raw write queued when the store failed never runs")
	_, err := s.GetRun(ctx, queued.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a write queued when the store failed is never written")
}

// TestReplacedWALFailsTheStore moves the WAL file away while the store has
// it open: an fsync of the file now at its path would not cover the
// writer's frames, so the store fails.
func TestReplacedWALFailsTheStore(t *testing.T) {
	t.Parallel()
	s := openPipelined(t)
	ctx := t.Context()
	_, _, err := s.CreateRun(ctx, queuedRun(), "", 0)
	require.NoError(t, err)
	require.NoError(t, os.Rename(s.path+"-wal", s.path+"-wal.moved"))
	_, _, err = s.CreateRun(ctx, queuedRun(), "", 0)
	require.ErrorContains(t, err, "replaced or removed")
	require.ErrorIs(t, err, store.ErrUnavailable)
}

// TestWALOutlivesOtherConnections opens and closes other connections to
// the file, as herald's CLI and the store's own probe do: SQLite removes
// the WAL file only when its last connection closes, never while the store
// is open, so the syncer's file stays the one the writer appends to.
func TestWALOutlivesOtherConnections(t *testing.T) {
	t.Parallel()
	s := openPipelined(t)
	ctx := t.Context()
	_, _, err := s.CreateRun(ctx, queuedRun(), "", 0)
	require.NoError(t, err)
	before, err := os.Stat(s.path + "-wal")
	require.NoError(t, err)
	for range 3 {
		other, err := sql.Open("sqlite", connString(s.path, time.Second))
		require.NoError(t, err)
		var n int
		require.NoError(t, other.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs`).Scan(&n))
		_, err = other.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		require.NoError(t, err)
		require.NoError(t, other.Close())
		require.NoError(t, s.Ping(ctx))
	}
	after, err := os.Stat(s.path + "-wal")
	require.NoError(t, err)
	require.True(t, os.SameFile(before, after), "the WAL file is the one the store opened")
	_, _, err = s.CreateRun(ctx, queuedRun(), "", 0)
	require.NoError(t, err)
}

// BenchmarkPipelinedCommit measures the store's durable writes with the
// WAL's fsync in each COMMIT (fsync_in_commit, synchronous=FULL: the writer
// waits for it) and with the syncer (pipelined), side by side: a
// StartAttempt and FinishAttempt pair, one at a time (the latency of two
// durable writes) and from 32 goroutines (the writer's throughput), with
// the process's CPU per pair (rusage).
//
//	go test ./internal/store/sqlitestore -run '^$' -bench PipelinedCommit -count 5
func BenchmarkPipelinedCommit(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  config
	}{
		{"fsync_in_commit", config{group: maxGroup}},
		{"pipelined", config{group: maxGroup, pipelined: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := openConfig(context.Background(), filepath.Join(b.TempDir(), "herald.db"), Options{}, mode.cfg)
			require.NoError(b, err)
			b.Cleanup(func() { require.NoError(b, s.Close()) })
			pair := attemptPairs(b, s)
			for _, n := range []int{1, 32} {
				b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
					var ru0, ru1 syscall.Rusage
					groups := s.w.groups.Load()
					var syncs int64
					if s.w.sync != nil {
						syncs = s.w.sync.syncs.Load()
					}
					syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
					if n == 1 {
						for b.Loop() {
							if err := pair(); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						runParallelN(b, n, pair)
					}
					syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
					cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
					b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/pair")
					b.ReportMetric(float64(2*b.N)/float64(s.w.groups.Load()-groups), "writes/commit")
					if s.w.sync != nil {
						b.ReportMetric(float64(2*b.N)/float64(s.w.sync.syncs.Load()-syncs), "writes/fsync")
					}
				})
			}
		})
	}
}
