package engine

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// maxLogged bounds the step records and attempts a runLog keeps: a run that
// writes more (a large for_each) is read back from the store instead, so the
// engine's memory per run stays bounded.
const maxLogged = 512

// runLog is what one execution of a run wrote to the store: its step
// records and attempts, applied as the store applies them. When the run
// ends in this execution the run object (RunView) is built from it, so a
// request waiting for the run (respond = "output") gets its answer without
// reading five tables back. It covers a run's first execution through
// steps that call, skip, fail and iterate; any other path (a wait, a
// window, an in-doubt send, a resume, a cancel) gives up on it (off) and
// the view is read from the store. Its methods are safe for concurrent use
// and do nothing on a nil runLog.
type runLog struct {
	mu  sync.Mutex
	off bool
	// recs are the step records in the order of their first write; the
	// store orders a run's steps by that.
	recs     []store.StepRecord
	attempts []store.Attempt
	// delivered is set once a message was indexed for delivery receipts.
	delivered bool
	// recBuf and attemptBuf hold the first records and attempts, so a
	// one-step run's log is one allocation.
	recBuf     [2]store.StepRecord
	attemptBuf [2]store.Attempt
}

// newRunLog returns the log of an execution of run: nil unless this is the
// run's first execution, which starts from nothing stored, and, for a run
// not stored yet (create), unless a request will wait for its object.
func newRunLog(run store.Run, create *pendingCreate) *runLog {
	if run.Attempt != 1 || create != nil && create.noWaiter {
		return nil
	}
	l := &runLog{}
	l.recs, l.attempts = l.recBuf[:0], l.attemptBuf[:0]
	return l
}

// drop gives up on the log: the run's view will be read from the store.
func (l *runLog) drop() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.dropLocked()
	l.mu.Unlock()
}

func (l *runLog) dropLocked() {
	l.off, l.recs, l.attempts = true, nil, nil
}

// full drops the log when it holds maxLogged entries; it reports whether
// the log is off. l.mu is held.
func (l *runLog) full() bool {
	if !l.off && len(l.recs)+len(l.attempts) >= maxLogged {
		l.dropLocked()
	}
	return l.off
}

// rec returns the record of key, nil when none was written.
func (l *runLog) rec(key store.StepKey) *store.StepRecord {
	for i := len(l.recs) - 1; i >= 0; i-- {
		if l.recs[i].StepKey == key {
			return &l.recs[i]
		}
	}
	return nil
}

// edit applies a write to the log under its lock, unless the log is nil or
// off, or (for a write that may add an entry, grow) full.
func (l *runLog) edit(grow bool, apply func()) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.off || grow && l.full() {
		return
	}
	apply()
}

// started applies a StartAttempt that the store accepted.
func (l *runLog) started(key store.StepKey, start store.AttemptStart) {
	l.edit(true, func() { l.start(key, start) })
}

func (l *runLog) start(key store.StepKey, start store.AttemptStart) {
	startedAt := normTime(start.StartedAt)
	if r := l.rec(key); r != nil {
		r.Status = store.StatusRunning
		r.Attempts = max(r.Attempts, start.Number)
		r.Provider = start.Provider
		if r.StartedAt.IsZero() {
			r.StartedAt = startedAt
		}
		r.FinishedAt = time.Time{}
	} else {
		l.recs = append(l.recs, store.StepRecord{StepKey: key, Status: store.StatusRunning, Attempts: start.Number,
			Provider: start.Provider, StartedAt: startedAt})
	}
	l.attempts = append(l.attempts, store.Attempt{StepKey: key, Number: start.Number, Provider: start.Provider,
		Action: start.Action, Status: store.StatusRunning, StartedAt: startedAt})
}

// finished applies a FinishAttempt that the store accepted.
func (l *runLog) finished(key store.StepKey, attempt int, res store.AttemptResult) {
	l.edit(false, func() { l.finish(key, attempt, res) })
}

func (l *runLog) finish(key store.StepKey, attempt int, res store.AttemptResult) {
	i := slices.IndexFunc(l.attempts, func(a store.Attempt) bool { return a.StepKey == key && a.Number == attempt })
	r := l.rec(key)
	if i < 0 || r == nil {
		// An attempt started outside the log: it cannot be trusted.
		l.dropLocked()
		return
	}
	finishedAt := normTime(res.FinishedAt)
	a := &l.attempts[i]
	a.Status, a.Outcome, a.Error = res.Status, store.OutcomeOf(res), res.Error
	a.RetryAfter = res.RetryAfter.Truncate(time.Millisecond)
	a.Request, a.Response = stored(res.Request), stored(res.Response)
	a.FinishedAt = finishedAt
	if r.Status == store.StatusSucceeded {
		return // a late attempt leaves a success alone
	}
	r.Status, r.FinishedAt = res.Status, finishedAt
	if res.WillRetry {
		r.Status, r.FinishedAt = store.StatusRunning, time.Time{}
	}
	r.Output, r.Error = stored(res.Output), res.Error
}

// recorded applies a RecordStep that the store accepted.
func (l *runLog) recorded(rec store.StepRecord) {
	rec.Output = stored(rec.Output)
	rec.StartedAt, rec.FinishedAt = normTime(rec.StartedAt), normTime(rec.FinishedAt)
	l.edit(true, func() {
		if r := l.rec(rec.StepKey); r != nil {
			*r = rec
			return
		}
		l.recs = append(l.recs, rec)
	})
}

// indexed notes that a message of the run was indexed for receipts.
func (l *runLog) indexed() {
	l.edit(false, func() { l.delivered = true })
}

// finishedRun returns the run that ended as run, with what this log holds,
// or nil when the log is off or the store may hold more than it wrote (an
// operator asked to cancel the run: the request is logged as an operation).
func (l *runLog) finishedRun(run store.Run, st store.Store) *FinishedRun {
	if l == nil || run.CancelRequested != "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.off {
		return nil
	}
	// The log is no longer written: the finished run shares its slices.
	return &FinishedRun{run: run, recs: l.recs, attempts: l.attempts, delivered: l.delivered, store: st}
}

// stored returns a JSON value as the store gives it back: empty is nil.
func stored(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// normTime returns t as the stores keep it: UTC, to the microsecond.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// FinishedRun is a run that ended in this process with what its execution
// wrote, carried by its RunFinished event: the run object of that run,
// built without reading it back (View).
type FinishedRun struct {
	run       store.Run
	recs      []store.StepRecord
	attempts  []store.Attempt
	delivered bool
	store     store.Store
}

// View returns the run object, as View would read it from the store when
// the run ended: built from memory, with the run's delivery receipts read
// from the store only when it sent a message that receives them.
func (f *FinishedRun) View(ctx context.Context) (*RunView, error) {
	var deliveries []store.Delivery
	if f.delivered {
		var err error
		if deliveries, err = f.store.RunDeliveries(ctx, f.run.ID); err != nil {
			return nil, err
		}
	}
	run := f.run
	run.CreatedAt, run.StartedAt, run.FinishedAt = normTime(run.CreatedAt), normTime(run.StartedAt), normTime(run.FinishedAt)
	// The stores' order: steps by their first record, then item, then
	// attempt number.
	order := make(map[string]int, len(f.recs))
	for _, r := range f.recs {
		if _, ok := order[r.StepID]; !ok {
			order[r.StepID] = len(order)
		}
	}
	recs := slices.Clone(f.recs)
	slices.SortStableFunc(recs, func(a, b store.StepRecord) int {
		if c := order[a.StepID] - order[b.StepID]; c != 0 {
			return c
		}
		return a.Item - b.Item
	})
	attempts := slices.Clone(f.attempts)
	slices.SortStableFunc(attempts, func(a, b store.Attempt) int {
		if c := order[a.StepID] - order[b.StepID]; c != 0 {
			return c
		}
		if c := a.Item - b.Item; c != 0 {
			return c
		}
		return a.Number - b.Number
	})
	v := BuildView(run, recs, attempts, nil, time.Now())
	v.addDeliveries(deliveries)
	return v, nil
}
