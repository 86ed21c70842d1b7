package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testHistory checks what the run history and its operation keep: reasons,
// trigger kinds, heartbeats and cancel requests, the attempt log with its
// exchange, the operation log, reopening steps and pruning.
func testHistory(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("RunReasonKindAndCancelRequestRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		require.Equal(t, "manual", run.TriggerKind, "the kind comes from the trigger")
		got, err := b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error {
			r.Status, r.Reason, r.CancelRequested = store.StatusCanceled, "canceled by cli", "cli"
			r.FinishedAt = base.Add(time.Minute)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "canceled by cli", got.Reason)
		got, err = b.s.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusCanceled, got.Status)
		require.Equal(t, "canceled by cli", got.Reason)
		require.Equal(t, "cli", got.CancelRequested)
		require.Equal(t, "manual", got.TriggerKind)

		_, err = b.s.UpdateRun(b.ctx, run.ID, func(r *store.Run) error { r.TriggerKind = "cron"; return nil })
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("EveryStoredStatusIsKeptAndInterruptedIsNeverStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, st := range []store.Status{store.StatusWaiting, store.StatusNeedsAttention, store.StatusCanceled} {
			run := newRun("w", 0)
			run.Status = st
			b.create(t, run)
			got, err := b.s.GetRun(b.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, st, got.Status)
		}
		run := newRun("w", 0)
		run.Status = store.StatusInterrupted
		_, _, err := b.s.CreateRun(b.ctx, run, "", 0)
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("HeartbeatIsOneStatementForTheOwnersRunningRuns", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		mine := newRun("w", 0)
		mine.Status, mine.Owner, mine.HeartbeatAt = store.StatusRunning, "me/1", base
		b.create(t, mine)
		canceled := newRun("w", time.Second)
		canceled.Status, canceled.Owner, canceled.HeartbeatAt = store.StatusRunning, "me/1", base
		b.create(t, canceled)
		_, err := b.s.UpdateRun(b.ctx, canceled.ID, func(r *store.Run) error { r.CancelRequested = "cli"; return nil })
		require.NoError(t, err)
		theirs := newRun("w", 2*time.Second)
		theirs.Status, theirs.Owner, theirs.HeartbeatAt = store.StatusRunning, "other/2", base
		b.create(t, theirs)

		now := base.Add(time.Hour)
		ids, err := b.s.Heartbeat(b.ctx, "me/1", now)
		require.NoError(t, err)
		require.Equal(t, []string{canceled.ID}, ids)
		for id, want := range map[string]time.Time{mine.ID: now, canceled.ID: now, theirs.ID: base} {
			got, err := b.s.GetRun(b.ctx, id)
			require.NoError(t, err)
			requireTime(t, want, got.HeartbeatAt)
		}

		// An update never moves a heartbeat back.
		got, err := b.s.UpdateRun(b.ctx, mine.ID, func(r *store.Run) error {
			r.HeartbeatAt = base
			r.Attempt++
			return nil
		})
		require.NoError(t, err)
		got, err = b.s.GetRun(b.ctx, got.ID)
		require.NoError(t, err)
		requireTime(t, now, got.HeartbeatAt)
	})

	t.Run("ListFiltersByKindTimeAndInterrupted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var all []store.Run
		for i, kind := range []string{"manual", "webhook", "cron", "webhook"} {
			run := newRun("w", time.Duration(i)*time.Minute)
			run.Trigger = json.RawMessage(`{"kind":"` + kind + `"}`)
			all = append(all, b.create(t, run))
		}
		list := func(f store.RunFilter) []string {
			t.Helper()
			runs, err := b.s.ListRuns(b.ctx, f)
			require.NoError(t, err)
			return ids(runs)
		}
		require.Equal(t, []string{all[3].ID, all[1].ID}, list(store.RunFilter{TriggerKind: "webhook"}))
		require.Equal(t, []string{all[2].ID, all[1].ID}, list(store.RunFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}))
		require.Equal(t, []string{all[1].ID}, list(store.RunFilter{TriggerKind: "webhook", Before: all[3].ID}))

		now := base.Add(time.Hour)
		for i, beat := range []time.Time{now, now.Add(-time.Hour)} {
			_, err := b.s.UpdateRun(b.ctx, all[i].ID, func(r *store.Run) error {
				r.Status, r.Owner, r.HeartbeatAt = store.StatusRunning, "h/1", beat
				return nil
			})
			require.NoError(t, err)
		}
		require.Equal(t, []string{all[0].ID}, list(store.RunFilter{Status: store.StatusRunning, Now: now}))
		require.Equal(t, []string{all[1].ID}, list(store.RunFilter{Status: store.StatusInterrupted, Now: now}))
		got, err := b.s.GetRun(b.ctx, all[1].ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusInterrupted, got.ShownStatus(now))
	})

	t.Run("AttemptsKeepActionOutcomeAndExchange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", Action: "send_message", StartedAt: base}))
		req := json.RawMessage(`{"method":"POST","url":"https://api.example/send?token=***","body":{"phone":"1"}}`)
		resp := json.RawMessage(`{"status":429,"body":{"error":"slow down"}}`)
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusFailed, WillRetry: true,
			Error: &store.StepError{Class: "rate_limited", Message: "slow down"}, RetryAfter: 1500 * time.Millisecond,
			Request: req, Response: resp, FinishedAt: base.Add(time.Second)}))
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "ccl", Action: "send_single", StartedAt: base.Add(2 * time.Second)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 2, store.AttemptResult{Status: store.StatusCanceled,
			Error: &store.StepError{Class: "canceled", Message: "canceled by cli"}, FinishedAt: base.Add(3 * time.Second)}))

		as, err := b.s.Attempts(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 2)
		require.Equal(t, "send_message", as[0].Action)
		require.Equal(t, store.OutcomeRateLimited, as[0].Outcome, "a failure's outcome defaults to its class")
		require.Equal(t, 1500*time.Millisecond, as[0].RetryAfter)
		requireJSON(t, req, as[0].Request)
		requireJSON(t, resp, as[0].Response)
		require.Equal(t, "send_single", as[1].Action)
		require.Equal(t, store.StatusCanceled, as[1].Status)
		require.Equal(t, store.OutcomeCanceled, as[1].Outcome)
		require.Empty(t, as[1].Request)

		recs, err := b.s.StepRecords(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusCanceled, recs[0].Status, "a canceled attempt ends its step canceled")

		err = b.s.FinishAttempt(b.ctx, key, 3, store.AttemptResult{Status: store.StatusFailed, Outcome: "exploded", FinishedAt: base})
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("StepReasonTotalAndReopen", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		agg := store.StepRecord{StepKey: store.StepKey{RunID: run.ID, StepID: "each", Item: store.NoItem},
			Status: store.StatusRunning, Total: 3, StartedAt: base}
		require.NoError(t, b.s.RecordStep(b.ctx, agg))
		skipped := store.StepRecord{StepKey: store.StepKey{RunID: run.ID, StepID: "maybe", Item: store.NoItem},
			Status: store.StatusSkipped, Reason: "skipped by if: vars.loud", StartedAt: base, FinishedAt: base}
		require.NoError(t, b.s.RecordStep(b.ctx, skipped))
		key := store.StepKey{RunID: run.ID, StepID: "send", Item: store.NoItem}
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "p", StartedAt: base}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
			Output: json.RawMessage(`{"id":"m1"}`), FinishedAt: base}))

		recs, err := b.s.StepRecords(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, recs, 3)
		require.Equal(t, 3, recs[0].Total)
		require.Equal(t, "skipped by if: vars.loud", recs[1].Reason)

		require.NoError(t, b.s.ReopenStep(b.ctx, key))
		recs, err = b.s.StepRecords(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRunning, recs[2].Status)
		require.Equal(t, 1, recs[2].Attempts, "the attempt count is kept")
		require.Empty(t, recs[2].Output)
		require.True(t, recs[2].FinishedAt.IsZero())
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "p", StartedAt: base}),
			"a reopened step takes new attempts, also after it succeeded")
		as, err := b.s.Attempts(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 2, "the attempt log keeps the earlier attempt")

		err = b.s.ReopenStep(b.ctx, store.StepKey{RunID: run.ID, StepID: "none", Item: store.NoItem})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("OperationsAreLoggedInOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		run := b.create(t, newRun("w", 0))
		ops, err := b.s.Operations(b.ctx, run.ID)
		require.NoError(t, err)
		require.Empty(t, ops)
		for i, action := range []string{"cancel", "retry"} {
			require.NoError(t, b.s.AddOperation(b.ctx, store.Operation{RunID: run.ID, At: base.Add(time.Duration(i) * time.Second),
				By: "console:127.0.0.1", Action: action, Detail: "d" + action}))
		}
		ops, err = b.s.Operations(b.ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, ops, 2)
		require.Equal(t, "cancel", ops[0].Action)
		require.Equal(t, "console:127.0.0.1", ops[0].By)
		require.Equal(t, "dretry", ops[1].Detail)
		requireTime(t, base.Add(time.Second), ops[1].At)

		require.ErrorIs(t, b.s.AddOperation(b.ctx, store.Operation{RunID: "nope", At: base, Action: "cancel"}), store.ErrNotFound)
		_, err = b.s.Operations(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.s.AddOperation(b.ctx, store.Operation{RunID: run.ID, At: base}), store.ErrInvalid)
	})

	t.Run("PruneDeletesOldFinishedRunsWithEverythingTheyHold", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var old []store.Run
		for i := range 5 {
			run := newRun("w", time.Duration(i)*time.Second)
			run.Status, run.FinishedAt = store.StatusSucceeded, run.CreatedAt.Add(time.Second)
			stored, _, err := b.s.CreateRun(b.ctx, run, "api:w:key"+string(rune('a'+i)), 24*time.Hour)
			require.NoError(t, err)
			old = append(old, stored)
			key := store.StepKey{RunID: run.ID, StepID: "s", Item: store.NoItem}
			require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "p", StartedAt: run.CreatedAt}))
			require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: run.FinishedAt}))
			require.NoError(t, b.s.AddOperation(b.ctx, store.Operation{RunID: run.ID, At: run.CreatedAt, Action: "retry"}))
		}
		unfinished := newRun("w", 0)
		unfinished.Status = store.StatusRunning
		b.create(t, unfinished)
		recent := newRun("w", time.Hour)
		recent.Status, recent.FinishedAt = store.StatusFailed, recent.CreatedAt
		b.create(t, recent)

		cutoff := base.Add(30 * time.Minute)
		n, err := b.s.PruneRuns(b.ctx, cutoff, 3)
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "a batch deletes at most its limit")
		n, err = b.s.PruneRuns(b.ctx, cutoff, 3)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		n, err = b.s.PruneRuns(b.ctx, cutoff, 3)
		require.NoError(t, err)
		require.Zero(t, n)

		for _, r := range old {
			_, err := b.s.GetRun(b.ctx, r.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		runs, err := b.s.ListRuns(b.ctx, store.RunFilter{})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{unfinished.ID, recent.ID}, ids(runs))

		// The pruned runs' idempotency keys went with them.
		again := newRun("w", 2*time.Hour)
		_, existed, err := b.s.CreateRun(b.ctx, again, "api:w:keya", 24*time.Hour)
		require.NoError(t, err)
		require.False(t, existed)

		_, err = b.s.PruneRuns(b.ctx, time.Time{}, 3)
		require.ErrorIs(t, err, store.ErrInvalid)
	})
}
