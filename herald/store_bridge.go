package herald

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// bridgedStore passes every call to s and makes each error it returns match
// both the public sentinels (ErrNotFound, ...) and the engine's own, so that
// an application's Store may return either and an application wrapping a
// Store of OpenStore sees the public ones.
type bridgedStore struct{ s Store }

// bridge returns s with its errors bridged; a bridged store is returned as
// it is.
func bridge(s Store) store.Store {
	if b, ok := s.(*bridgedStore); ok {
		return b
	}
	return withExtensions(&bridgedStore{s: s}, s)
}

// withExtensions returns s, a store wrapping inner, with the optional
// interfaces inner implements and s would hide: durable waits (store.Waits,
// which the wait steps need) and maintenance (store.Maintainer, which the
// retention uses to compact). Only the stores OpenStore returns implement
// them; an application's own Store runs no wait step. When inner also
// writes a run with its attempts in one transaction (store.RunCommitter,
// store.EagerStarter), as OpenStore's stores do, those pass on too, so an
// embedded engine costs the same commits a run as herald serve.
func withExtensions(s store.Store, inner any) store.Store {
	ws, waits := inner.(store.Waits)
	m, maint := inner.(store.Maintainer)
	rc, commits := inner.(store.RunCommitter)
	es, eager := inner.(store.EagerStarter)
	switch {
	case waits && maint && commits && eager:
		return struct {
			store.Store
			store.Waits
			store.Maintainer
			store.RunCommitter
			store.EagerStarter
		}{s, ws, m, rc, es}
	case waits && maint:
		return struct {
			store.Store
			store.Waits
			store.Maintainer
		}{s, ws, m}
	case waits:
		return struct {
			store.Store
			store.Waits
		}{s, ws}
	case maint:
		return struct {
			store.Store
			store.Maintainer
		}{s, m}
	}
	return s
}

func (b *bridgedStore) CreateRun(ctx context.Context, run RunRecord, idemKey string, ttl time.Duration) (RunRecord, bool, error) {
	stored, existed, err := b.s.CreateRun(ctx, run, idemKey, ttl)
	return stored, existed, publicError(err)
}

func (b *bridgedStore) GetRun(ctx context.Context, id string) (RunRecord, error) {
	run, err := b.s.GetRun(ctx, id)
	return run, publicError(err)
}

func (b *bridgedStore) ListRuns(ctx context.Context, filter RunFilter) ([]RunRecord, error) {
	runs, err := b.s.ListRuns(ctx, filter)
	return runs, publicError(err)
}

func (b *bridgedStore) UnfinishedRuns(ctx context.Context) ([]RunRecord, error) {
	runs, err := b.s.UnfinishedRuns(ctx)
	return runs, publicError(err)
}

func (b *bridgedStore) UpdateRun(ctx context.Context, id string, update func(*RunRecord) error) (RunRecord, error) {
	run, err := b.s.UpdateRun(ctx, id, update)
	return run, publicError(err)
}

func (b *bridgedStore) PurgeExpiredKeys(ctx context.Context, now time.Time) (int64, error) {
	n, err := b.s.PurgeExpiredKeys(ctx, now)
	return n, publicError(err)
}

func (b *bridgedStore) Heartbeat(ctx context.Context, owner string, at time.Time) ([]string, error) {
	cancel, err := b.s.Heartbeat(ctx, owner, at)
	return cancel, publicError(err)
}

func (b *bridgedStore) PruneRuns(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	n, err := b.s.PruneRuns(ctx, cutoff, limit)
	return n, publicError(err)
}

func (b *bridgedStore) AddOperation(ctx context.Context, op Operation) error {
	return publicError(b.s.AddOperation(ctx, op))
}

func (b *bridgedStore) Operations(ctx context.Context, runID string) ([]Operation, error) {
	ops, err := b.s.Operations(ctx, runID)
	return ops, publicError(err)
}

func (b *bridgedStore) StartAttempt(ctx context.Context, key StepKey, start AttemptStart) error {
	return publicError(b.s.StartAttempt(ctx, key, start))
}

func (b *bridgedStore) FinishAttempt(ctx context.Context, key StepKey, attempt int, result AttemptResult) error {
	return publicError(b.s.FinishAttempt(ctx, key, attempt, result))
}

func (b *bridgedStore) RecordStep(ctx context.Context, rec StepRecord) error {
	return publicError(b.s.RecordStep(ctx, rec))
}

func (b *bridgedStore) ReopenStep(ctx context.Context, key StepKey) error {
	return publicError(b.s.ReopenStep(ctx, key))
}

func (b *bridgedStore) StepRecords(ctx context.Context, runID string) ([]StepRecord, error) {
	recs, err := b.s.StepRecords(ctx, runID)
	return recs, publicError(err)
}

func (b *bridgedStore) Attempts(ctx context.Context, runID string) ([]AttemptRecord, error) {
	attempts, err := b.s.Attempts(ctx, runID)
	return attempts, publicError(err)
}

func (b *bridgedStore) CronState(ctx context.Context, workflow, trigger string) (CronState, error) {
	state, err := b.s.CronState(ctx, workflow, trigger)
	return state, publicError(err)
}

func (b *bridgedStore) SetCronState(ctx context.Context, state CronState) error {
	return publicError(b.s.SetCronState(ctx, state))
}

func (b *bridgedStore) IndexMessage(ctx context.Context, d Delivery) error {
	return publicError(b.s.IndexMessage(ctx, d))
}

func (b *bridgedStore) RecordReceipt(ctx context.Context, provider, messageID, eventType string, r Receipt) (Delivery, bool, error) {
	d, changed, err := b.s.RecordReceipt(ctx, provider, messageID, eventType, r)
	return d, changed, publicError(err)
}

func (b *bridgedStore) RunDeliveries(ctx context.Context, runID string) ([]Delivery, error) {
	ds, err := b.s.RunDeliveries(ctx, runID)
	return ds, publicError(err)
}

func (b *bridgedStore) Ping(ctx context.Context) error { return publicError(b.s.Ping(ctx)) }

func (b *bridgedStore) Close() error { return publicError(b.s.Close()) }
