package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testConcurrency checks the store under the load of a for_each step with
// high parallelism and of many runs at once. Racing idempotency claims and
// UpdateRun contention are checked with their features.
func testConcurrency(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("ParallelItemAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		const items, parallelism = 96, 32

		work := make(chan int)
		var wg sync.WaitGroup
		for range parallelism {
			wg.Go(func() {
				for i := range work {
					key := store.StepKey{RunID: run.ID, StepID: "each", Item: i}
					if !assert.NoError(t, attemptTwice(b, key, i)) {
						return
					}
				}
			})
		}
		for i := range items {
			work <- i
		}
		close(work)
		wg.Wait()
		if t.Failed() {
			return
		}

		recs := b.records(t, run.ID)
		require.Len(t, recs, items)
		for i, rec := range recs {
			require.Equal(t, i, rec.Item)
			require.Equal(t, store.StatusSucceeded, rec.Status)
			require.Equal(t, 2, rec.Attempts)
			require.Equal(t, "chatapi", rec.Provider)
			require.Nil(t, rec.Error)
			requireJSON(t, json.RawMessage(fmt.Sprintf(`{"item":%d}`, i)), rec.Output)
		}
		attempts := b.attempts(t, run.ID)
		require.Len(t, attempts, 2*items)
		for i, a := range attempts {
			require.Equal(t, i/2, a.Item)
			require.Equal(t, i%2+1, a.Number)
		}
	})

	t.Run("ManyRunsWithReaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const runs, steps = 16, 5
		done := make(chan struct{})
		var readers sync.WaitGroup
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-done:
						return
					case <-time.After(time.Millisecond): // pace reads so they do not starve the writers
					}
					listed, err := b.s.ListRuns(b.ctx, store.RunFilter{Limit: 10})
					if !assert.NoError(t, err) {
						return
					}
					for _, r := range listed {
						_, err := b.s.StepRecords(b.ctx, r.ID)
						if !assert.NoError(t, err) {
							return
						}
					}
				}
			})
		}

		var writers sync.WaitGroup
		for w := range runs {
			writers.Go(func() {
				assert.NoError(t, runWorkflow(b, newRun(fmt.Sprintf("w%d", w%4), time.Duration(w)*time.Second), steps))
			})
		}
		writers.Wait()
		close(done)
		readers.Wait()
		if t.Failed() {
			return
		}

		listed, err := b.s.ListRuns(b.ctx, store.RunFilter{Status: store.StatusSucceeded})
		require.NoError(t, err)
		require.Len(t, listed, runs)
		for _, r := range listed {
			recs := b.records(t, r.ID)
			require.Len(t, recs, steps)
			for i, rec := range recs {
				require.Equal(t, fmt.Sprintf("step-%d", i), rec.StepID)
				require.Equal(t, store.StatusSucceeded, rec.Status)
			}
		}
		unfinished, err := b.s.UnfinishedRuns(b.ctx)
		require.NoError(t, err)
		require.Empty(t, unfinished)
	})
}

// attemptTwice records a failed attempt that is retried and a successful
// second one, as the engine does for one for_each item.
func attemptTwice(b *bundle, key store.StepKey, i int) error {
	if err := b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: base}); err != nil {
		return err
	}
	if err := b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusFailed, WillRetry: true,
		Error: &store.StepError{Class: "retryable", Message: "timeout"}, FinishedAt: base.Add(time.Second)}); err != nil {
		return err
	}
	if err := b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: base.Add(2 * time.Second)}); err != nil {
		return err
	}
	return b.s.FinishAttempt(b.ctx, key, 2, store.AttemptResult{Status: store.StatusSucceeded,
		Output: json.RawMessage(fmt.Sprintf(`{"item":%d}`, i)), FinishedAt: base.Add(3 * time.Second)})
}

// runWorkflow takes run from creation to success through steps sequential
// steps, as the engine does.
func runWorkflow(b *bundle, run store.Run, steps int) error {
	if _, _, err := b.s.CreateRun(b.ctx, run, "", 0); err != nil {
		return err
	}
	if _, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
		r.Status, r.StartedAt = store.StatusRunning, run.CreatedAt
		return nil
	}); err != nil {
		return err
	}
	for i := range steps {
		key := store.StepKey{RunID: run.ID, StepID: fmt.Sprintf("step-%d", i), Item: store.NoItem}
		if err := b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: run.CreatedAt}); err != nil {
			return err
		}
		if err := b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
			Output: json.RawMessage(`{"sent":true}`), FinishedAt: run.CreatedAt}); err != nil {
			return err
		}
	}
	_, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
		r.Status, r.FinishedAt = store.StatusSucceeded, run.CreatedAt.Add(time.Second)
		return nil
	})
	return err
}
