package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
)

// testSteps checks step records and the attempt log.
func testSteps(t *testing.T, open func(*testing.T) store.Store) {
	// begin opens a store with one running run and returns the key of its
	// step "notify".
	begin := func(t *testing.T) (*bundle, store.StepKey) {
		t.Helper()
		b := setup(t, open)
		run := newRun("w", 0)
		run.Status = store.StatusRunning
		b.create(t, run)
		return b, store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	}
	at := func(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

	t.Run("StartedAttemptIsRecordedBeforeItFinishes", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))

		recs := b.records(t, key.RunID)
		require.Len(t, recs, 1)
		rec := recs[0]
		require.Equal(t, key, rec.StepKey)
		require.Equal(t, store.StatusRunning, rec.Status)
		require.Equal(t, 1, rec.Attempts)
		require.Equal(t, "chatapi", rec.Provider)
		require.Empty(t, rec.Output)
		require.Nil(t, rec.Error)
		requireTime(t, at(1), rec.StartedAt)
		require.True(t, rec.FinishedAt.IsZero())

		attempts := b.attempts(t, key.RunID)
		require.Len(t, attempts, 1)
		requireAttempt(t, store.Attempt{StepKey: key, Number: 1, Provider: "chatapi", Status: store.StatusRunning,
			StartedAt: at(1)}, attempts[0])
	})

	t.Run("SuccessIsFinal", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		output := json.RawMessage(`{"sent":true,"id":"true_14155550123@c.us_3EB0","message":"ok"}`)
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{
			Status: store.StatusSucceeded, Output: output, FinishedAt: at(2)}))

		rec := b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusSucceeded, rec.Status)
		requireJSON(t, output, rec.Output)
		require.Nil(t, rec.Error)
		requireTime(t, at(2), rec.FinishedAt)
		a := b.attempts(t, key.RunID)[0]
		require.Equal(t, store.StatusSucceeded, a.Status)
		requireTime(t, at(2), a.FinishedAt)

		err := b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: at(3)})
		require.ErrorIs(t, err, store.ErrConflict, "a succeeded step is never sent again")
		err = b.s.RecordStep(b.ctx, store.StepRecord{StepKey: key, Status: store.StatusFailed, StartedAt: at(3)})
		require.ErrorIs(t, err, store.ErrConflict)
		recs := b.records(t, key.RunID)
		require.Len(t, recs, 1)
		requireRecord(t, rec, recs[0])
		require.Len(t, b.attempts(t, key.RunID), 1)
	})

	t.Run("RetriesThenFallbackSucceeds", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		unavailable := &store.StepError{Class: "retryable", Message: "503 service unavailable"}
		limited := &store.StepError{Class: "rate_limited", Message: "429 too many requests"}

		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{
			Status: store.StatusFailed, WillRetry: true, Error: unavailable, FinishedAt: at(2)}))
		rec := b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusRunning, rec.Status, "a failure that will be retried leaves the step running")
		require.Equal(t, unavailable, rec.Error)
		require.True(t, rec.FinishedAt.IsZero())

		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: at(3)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 2, store.AttemptResult{
			Status: store.StatusFailed, WillRetry: true, Error: limited, FinishedAt: at(4)}))
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 3, Provider: "whatsapp_cc", StartedAt: at(5)}))
		rec = b.records(t, key.RunID)[0]
		require.Equal(t, "whatsapp_cc", rec.Provider)
		require.Equal(t, 3, rec.Attempts)
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 3, store.AttemptResult{
			Status: store.StatusSucceeded, Output: json.RawMessage(`{"status_code":200}`), FinishedAt: at(6)}))

		rec = b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusSucceeded, rec.Status)
		require.Equal(t, 3, rec.Attempts)
		require.Equal(t, "whatsapp_cc", rec.Provider, "the fallback that was used")
		require.Nil(t, rec.Error, "success clears the error of earlier attempts")
		requireJSON(t, json.RawMessage(`{"status_code":200}`), rec.Output)
		requireTime(t, at(1), rec.StartedAt)
		requireTime(t, at(6), rec.FinishedAt)

		attempts := b.attempts(t, key.RunID)
		require.Len(t, attempts, 3)
		want := []struct {
			provider string
			status   store.Status
			err      *store.StepError
		}{
			{"chatapi", store.StatusFailed, unavailable},
			{"chatapi", store.StatusFailed, limited},
			{"whatsapp_cc", store.StatusSucceeded, nil},
		}
		for i, w := range want {
			a := attempts[i]
			require.Equal(t, i+1, a.Number)
			require.Equal(t, key, a.StepKey)
			require.Equal(t, w.provider, a.Provider)
			require.Equal(t, w.status, a.Status)
			require.Equal(t, w.err, a.Error)
			requireTime(t, at(2*i+1), a.StartedAt)
			requireTime(t, at(2*i+2), a.FinishedAt)
		}
	})

	t.Run("FinalFailureKeepsTheClassifiedError", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		stepErr := &store.StepError{Class: "permanent", Message: "phone is not a whatsapp account", Field: "phone"}
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{
			Status: store.StatusFailed, Error: stepErr, Output: json.RawMessage(`{"sent":false}`), FinishedAt: at(2)}))

		rec := b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusFailed, rec.Status)
		require.Equal(t, stepErr, rec.Error)
		requireJSON(t, json.RawMessage(`{"sent":false}`), rec.Output)
		requireTime(t, at(2), rec.FinishedAt)
		require.Equal(t, stepErr, b.attempts(t, key.RunID)[0].Error)
	})

	t.Run("FailedStepCanBeAttemptedAgain", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{
			Status: store.StatusFailed, Error: &store.StepError{Class: "retryable", Message: "timeout"}, FinishedAt: at(2)}))

		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi", StartedAt: at(10)}))
		rec := b.records(t, key.RunID)[0]
		require.Equal(t, store.StatusRunning, rec.Status)
		require.Equal(t, 2, rec.Attempts)
		requireTime(t, at(1), rec.StartedAt) // the step started with its first attempt
		require.True(t, rec.FinishedAt.IsZero())
	})

	t.Run("AttemptNumberStartsOnce", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		start := store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}
		require.NoError(t, b.s.StartAttempt(b.ctx, key, start))
		start.StartedAt = at(5)
		require.ErrorIs(t, b.s.StartAttempt(b.ctx, key, start), store.ErrConflict)
		attempts := b.attempts(t, key.RunID)
		require.Len(t, attempts, 1)
		requireTime(t, at(1), attempts[0].StartedAt)
	})

	t.Run("AttemptFinishesOnce", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		done := store.AttemptResult{Status: store.StatusFailed, WillRetry: true, FinishedAt: at(2),
			Error: &store.StepError{Class: "retryable", Message: "reset by peer"}}
		require.ErrorIs(t, b.s.FinishAttempt(b.ctx, key, 1, done), store.ErrNotFound, "never started")

		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 1, done))
		err := b.s.FinishAttempt(b.ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: at(3)})
		require.ErrorIs(t, err, store.ErrConflict)

		require.Equal(t, store.StatusFailed, b.attempts(t, key.RunID)[0].Status)
		require.Equal(t, store.StatusRunning, b.records(t, key.RunID)[0].Status)
	})

	t.Run("LateFinishLeavesASuccessAlone", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		lateFinishLeavesASuccessAlone(t, b, b, key)
	})

	t.Run("UnknownRunIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		key := store.StepKey{RunID: "no-such-run", StepID: "notify", Item: store.NoItem}
		err := b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)})
		require.ErrorIs(t, err, store.ErrNotFound)
		err = b.s.RecordStep(b.ctx, store.StepRecord{StepKey: key, Status: store.StatusSkipped})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.s.StepRecords(b.ctx, key.RunID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.s.Attempts(b.ctx, key.RunID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("RunWithoutStepsHasNoRecords", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.Empty(t, b.records(t, key.RunID))
		require.Empty(t, b.attempts(t, key.RunID))
	})

	t.Run("InvalidArgumentsAreRejected", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		start := store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}
		with := func(change func(*store.StepKey)) store.StepKey {
			k := key
			change(&k)
			return k
		}
		starts := map[string]struct {
			key   store.StepKey
			start store.AttemptStart
		}{
			"empty run":    {with(func(k *store.StepKey) { k.RunID = "" }), start},
			"empty step":   {with(func(k *store.StepKey) { k.StepID = "" }), start},
			"item below":   {with(func(k *store.StepKey) { k.Item = -2 }), start},
			"attempt zero": {key, store.AttemptStart{Number: 0, Provider: "chatapi", StartedAt: at(1)}},
			"zero start":   {key, store.AttemptStart{Number: 1, Provider: "chatapi"}},
		}
		for name, tt := range starts {
			require.ErrorIs(t, b.s.StartAttempt(b.ctx, tt.key, tt.start), store.ErrInvalid, name)
		}

		require.NoError(t, b.s.StartAttempt(b.ctx, key, start))
		success := store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: at(2)}
		finishes := map[string]struct {
			key     store.StepKey
			attempt int
			result  store.AttemptResult
		}{
			"attempt zero":     {key, 0, success},
			"item below":       {with(func(k *store.StepKey) { k.Item = -5 }), 1, success},
			"empty step":       {with(func(k *store.StepKey) { k.StepID = "" }), 1, success},
			"running":          {key, 1, store.AttemptResult{Status: store.StatusRunning, FinishedAt: at(2)}},
			"queued":           {key, 1, store.AttemptResult{Status: store.StatusQueued, FinishedAt: at(2)}},
			"empty status":     {key, 1, store.AttemptResult{FinishedAt: at(2)}},
			"retry of success": {key, 1, store.AttemptResult{Status: store.StatusSucceeded, WillRetry: true, FinishedAt: at(2)}},
			"retry of skip":    {key, 1, store.AttemptResult{Status: store.StatusSkipped, WillRetry: true, FinishedAt: at(2)}},
			"zero finish":      {key, 1, store.AttemptResult{Status: store.StatusSucceeded}},
			"output not json":  {key, 1, store.AttemptResult{Status: store.StatusSucceeded, Output: json.RawMessage(`{`), FinishedAt: at(2)}},
		}
		for name, tt := range finishes {
			require.ErrorIs(t, b.s.FinishAttempt(b.ctx, tt.key, tt.attempt, tt.result), store.ErrInvalid, name)
		}

		records := map[string]store.StepRecord{
			"queued":           {StepKey: with(func(k *store.StepKey) { k.StepID = "x" }), Status: store.StatusQueued},
			"empty status":     {StepKey: with(func(k *store.StepKey) { k.StepID = "x" })},
			"output not json":  {StepKey: with(func(k *store.StepKey) { k.StepID = "x" }), Status: store.StatusSkipped, Output: json.RawMessage(`[1,`)},
			"negative attempt": {StepKey: with(func(k *store.StepKey) { k.StepID = "x" }), Status: store.StatusSkipped, Attempts: -1},
			"empty step":       {StepKey: with(func(k *store.StepKey) { k.StepID = "" }), Status: store.StatusSkipped},
		}
		for name, rec := range records {
			require.ErrorIs(t, b.s.RecordStep(b.ctx, rec), store.ErrInvalid, name)
		}

		recs := b.records(t, key.RunID)
		require.Len(t, recs, 1, "nothing invalid was stored")
		require.Equal(t, store.StatusRunning, recs[0].Status)
		require.Len(t, b.attempts(t, key.RunID), 1)
	})

	t.Run("SkippedStepHasARecordAndNoAttempts", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		require.NoError(t, b.s.RecordStep(b.ctx, store.StepRecord{
			StepKey: key, Status: store.StatusSkipped, StartedAt: at(1), FinishedAt: at(1)}))
		recs := b.records(t, key.RunID)
		require.Len(t, recs, 1)
		require.Equal(t, store.StatusSkipped, recs[0].Status)
		require.Zero(t, recs[0].Attempts)
		require.Empty(t, recs[0].Provider)
		requireTime(t, at(1), recs[0].FinishedAt)
		require.Empty(t, b.attempts(t, key.RunID))
	})

	t.Run("RecordStepReplacesAnUnfinishedRecord", func(t *testing.T) {
		t.Parallel()
		b, key := begin(t)
		key.StepID = "each"
		require.NoError(t, b.s.RecordStep(b.ctx, store.StepRecord{StepKey: key, Status: store.StatusRunning, StartedAt: at(1)}))
		final := store.StepRecord{
			StepKey:    key,
			Status:     store.StatusFailed,
			Attempts:   3,
			Provider:   "chatapi",
			Output:     json.RawMessage(`[{"sent":true},null,{"sent":true}]`),
			Error:      &store.StepError{Class: "permanent", Message: "1 of 3 items failed"},
			StartedAt:  at(1),
			FinishedAt: at(9),
		}
		require.NoError(t, b.s.RecordStep(b.ctx, final))
		recs := b.records(t, key.RunID)
		require.Len(t, recs, 1)
		requireRecord(t, final, recs[0])
	})

	t.Run("RecordsAreOrderedByStepCreationThenItem", func(t *testing.T) {
		t.Parallel()
		b, notify := begin(t)
		runID := notify.RunID
		step := func(id string, item int) store.StepKey { return store.StepKey{RunID: runID, StepID: id, Item: item} }
		succeed := func(key store.StepKey, n int) {
			t.Helper()
			require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: n, Provider: "chatapi", StartedAt: at(n)}))
			require.NoError(t, b.s.FinishAttempt(b.ctx, key, n, store.AttemptResult{
				Status: store.StatusSucceeded, FinishedAt: at(n + 1)}))
		}
		// Steps named against alphabetical order; items recorded out of order
		// and before their aggregate record.
		succeed(step("zeta", store.NoItem), 1)
		succeed(step("each", 2), 1)
		succeed(step("each", 0), 1)
		require.NoError(t, b.s.StartAttempt(b.ctx, step("each", 1), store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		require.NoError(t, b.s.FinishAttempt(b.ctx, step("each", 1), 1, store.AttemptResult{
			Status: store.StatusFailed, WillRetry: true, FinishedAt: at(2)}))
		succeed(step("each", 1), 2)
		succeed(step("alpha", store.NoItem), 1)
		require.NoError(t, b.s.RecordStep(b.ctx, store.StepRecord{
			StepKey: step("each", store.NoItem), Status: store.StatusSucceeded, Attempts: 4,
			Output: json.RawMessage(`[null,null,null]`), StartedAt: at(1), FinishedAt: at(3)}))

		other := b.create(t, newRun("w", time.Minute))
		succeed(store.StepKey{RunID: other.ID, StepID: "each", Item: 0}, 1)

		wantKeys := []store.StepKey{step("zeta", store.NoItem), step("each", store.NoItem),
			step("each", 0), step("each", 1), step("each", 2), step("alpha", store.NoItem)}
		var gotKeys []store.StepKey
		for _, r := range b.records(t, runID) {
			gotKeys = append(gotKeys, r.StepKey)
		}
		require.Equal(t, wantKeys, gotKeys)

		type attemptKey struct {
			store.StepKey
			number int
		}
		wantAttempts := []attemptKey{{wantKeys[0], 1}, {wantKeys[2], 1}, {wantKeys[3], 1},
			{wantKeys[3], 2}, {wantKeys[4], 1}, {wantKeys[5], 1}}
		var gotAttempts []attemptKey
		for _, a := range b.attempts(t, runID) {
			gotAttempts = append(gotAttempts, attemptKey{a.StepKey, a.Number})
		}
		require.Equal(t, wantAttempts, gotAttempts)

		otherRecs := b.records(t, other.ID)
		require.Len(t, otherRecs, 1, "records belong to their run")
		require.Equal(t, other.ID, otherRecs[0].RunID)
	})
}

// lateFinishLeavesASuccessAlone plays a resume across two hosts: host a
// starts attempt 1 and hangs in the plugin call; host b resumes the run and
// its attempt 2 succeeds; then a's attempt 1 finishes after all, failed or
// even succeeded. The late result goes into the attempt log, but the step
// record keeps b's success, so a later resume does not send the step again.
func lateFinishLeavesASuccessAlone(t *testing.T, a, b *bundle, key store.StepKey) {
	t.Helper()
	at := func(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }
	timeout := &store.StepError{Class: "retryable", Message: "context deadline exceeded"}
	for i, late := range []store.AttemptResult{
		{Status: store.StatusFailed, Error: timeout, FinishedAt: at(30)},
		{Status: store.StatusFailed, WillRetry: true, Error: timeout, FinishedAt: at(30)},
		{Status: store.StatusSucceeded, Output: json.RawMessage(`{"sent":true,"by":"a"}`), FinishedAt: at(30)},
	} {
		key.StepID = fmt.Sprintf("notify-%d", i)
		require.NoError(t, a.s.StartAttempt(a.ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at(1)}))
		require.NoError(t, b.s.StartAttempt(b.ctx, key, store.AttemptStart{Number: 2, Provider: "chatapi-backup", StartedAt: at(10)}))
		output := json.RawMessage(`{"sent":true,"by":"b"}`)
		require.NoError(t, b.s.FinishAttempt(b.ctx, key, 2, store.AttemptResult{
			Status: store.StatusSucceeded, Output: output, FinishedAt: at(11)}))
		want := store.StepRecord{StepKey: key, Status: store.StatusSucceeded, Attempts: 2, Provider: "chatapi-backup",
			Output: output, StartedAt: at(1), FinishedAt: at(11)}

		require.NoError(t, a.s.FinishAttempt(a.ctx, key, 1, late), "the late result is logged")
		var rec *store.StepRecord
		for _, r := range a.records(t, key.RunID) {
			if r.StepKey == key {
				rec = &r
			}
		}
		require.NotNil(t, rec)
		requireRecord(t, want, *rec)
		var logged []store.Attempt
		for _, att := range b.attempts(t, key.RunID) {
			if att.StepKey == key {
				logged = append(logged, att)
			}
		}
		require.Len(t, logged, 2)
		requireAttempt(t, store.Attempt{StepKey: key, Number: 1, Provider: "chatapi", Status: late.Status,
			Error: late.Error, StartedAt: at(1), FinishedAt: at(30)}, logged[0])
		require.Equal(t, store.StatusSucceeded, logged[1].Status)

		err := a.s.StartAttempt(a.ctx, key, store.AttemptStart{Number: 3, Provider: "chatapi", StartedAt: at(31)})
		require.ErrorIs(t, err, store.ErrConflict, "a resume never sends the step again")
	}
}

// records returns the step records of a run.
func (b *bundle) records(t *testing.T, runID string) []store.StepRecord {
	t.Helper()
	recs, err := b.s.StepRecords(b.ctx, runID)
	require.NoError(t, err)
	return recs
}

// attempts returns the attempt log of a run.
func (b *bundle) attempts(t *testing.T, runID string) []store.Attempt {
	t.Helper()
	attempts, err := b.s.Attempts(b.ctx, runID)
	require.NoError(t, err)
	return attempts
}

// requireRecord fails t unless got holds what want does.
func requireRecord(t *testing.T, want, got store.StepRecord) {
	t.Helper()
	require.Equal(t, want.StepKey, got.StepKey)
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Attempts, got.Attempts)
	require.Equal(t, want.Provider, got.Provider)
	requireJSON(t, want.Output, got.Output)
	require.Equal(t, want.Error, got.Error)
	requireTime(t, want.StartedAt, got.StartedAt)
	requireTime(t, want.FinishedAt, got.FinishedAt)
}

// requireAttempt fails t unless got holds what want does.
func requireAttempt(t *testing.T, want, got store.Attempt) {
	t.Helper()
	require.Equal(t, want.StepKey, got.StepKey)
	require.Equal(t, want.Number, got.Number)
	require.Equal(t, want.Provider, got.Provider)
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Error, got.Error)
	requireTime(t, want.StartedAt, got.StartedAt)
	requireTime(t, want.FinishedAt, got.FinishedAt)
}
