package pgstore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// restartEnv must be 1 for TestSurvivesServerRestart, which restarts the
// local PostgreSQL server and so breaks every other user of it.
const restartEnv = "HERALD_TEST_PG_RESTART"

// restartCommand restarts the local Debian cluster.
const restartCommand = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart"

// TestSurvivesServerRestart restarts the server while writers use the store:
// calls made during the outage fail with an error that wraps the cause, and
// once the server is back the same Store works again, with nothing lost.
// It is not parallel, so no other test of this package runs meanwhile.
func TestSurvivesServerRestart(t *testing.T) {
	if os.Getenv(restartEnv) != "1" {
		t.Skip(restartEnv + " is not 1; skipping the test that restarts the local PostgreSQL server")
	}
	s := openFresh(t)
	ctx := t.Context()
	before := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	_, _, err := s.CreateRun(ctx, before, "api:w:before", time.Hour)
	require.NoError(t, err)

	// Writers keep every pooled connection busy until the restart ends.
	var (
		mu       sync.Mutex
		failures []error
		wrote    int
	)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for range 4 {
		writers.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
				callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, _, err := s.CreateRun(callCtx, run, "", 0)
				cancel()
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					wrote++
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	out, err := exec.CommandContext(ctx, "sh", "-c", restartCommand).CombinedOutput()
	require.NoError(t, err, "%s: %s", restartCommand, out)
	// Let the writers meet the restarted server with their old connections.
	time.Sleep(300 * time.Millisecond)
	close(stop)
	writers.Wait()

	t.Logf("during the restart: %d writes succeeded, %d failed", wrote, len(failures))
	for _, err := range failures {
		assert.ErrorContains(t, err, "create run ")
		assert.NotNil(t, errors.Unwrap(err), "the error wraps its cause: %v", err)
		assert.NotErrorIs(t, err, store.ErrConflict)
		assert.NotErrorIs(t, err, store.ErrInvalid)
	}
	if len(failures) > 0 {
		t.Logf("first failure: %v", failures[0])
	}

	// The pool replaces its dead connections: a caller that retries a
	// failed call, as the engine does, gets through.
	deadline := time.Now().Add(30 * time.Second)
	for err = s.Ping(ctx); err != nil && time.Now().Before(deadline); err = s.Ping(ctx) {
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, "the store answers again after the restart")
	for range 10 { // more calls than pooled connections: none may be stale now
		require.NoError(t, s.Ping(ctx))
	}

	got, existed, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued,
		CreatedAt: time.Now()}, "api:w:before", time.Hour)
	require.NoError(t, err)
	require.True(t, existed, "what was written before the restart is there")
	require.Equal(t, before.ID, got.ID)
	key := store.StepKey{RunID: before.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()}))
	require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: time.Now()}))
	_, err = s.UpdateRun(ctx, before.ID, func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, time.Now()
		return nil
	})
	require.NoError(t, err)
	runs, err := s.ListRuns(ctx, store.RunFilter{})
	require.NoError(t, err)
	// A write that failed may still have committed before its connection died.
	require.GreaterOrEqual(t, len(runs), 1+wrote, "every write that succeeded is kept")
	require.LessOrEqual(t, len(runs), 1+wrote+len(failures))
}
