package engine

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// maxSettleBatch caps how many settlements share one store transaction,
// so one batch never holds the store's write lock for long.
const maxSettleBatch = 256

// settler hands the wait resolutions of concurrent callers (timeouts that
// fire together, receipts that arrive together) to the store in batches:
// one Waits.SettleWaits transaction, one commit, for every settlement
// queued while the previous batch committed, instead of a transaction
// each. It keeps no goroutine of its own: the caller that finds no batch
// in flight commits the queue, and hands what is queued after its own
// settlement to a goroutine that ends when the queue is empty. The zero
// value is ready to use.
//
// A store whose writes of concurrent callers share commits already
// (store.CommitGrouper: SQLite's writer, which also takes the writes that
// arrive while its group is applied) is handed each settlement as it
// comes: batching them first would only split the callers into cohorts
// that take turns (measured 2026-12-07 at 4,000 waits, three alternating
// pairs: batched first, 36-66% of the receipts matched per second by
// handing each to the writer).
type settler struct {
	mu    sync.Mutex
	queue []*settling
	busy  bool
}

// settling is one caller's settlement waiting for its batch.
type settling struct {
	st   store.Settlement
	res  store.Settled
	err  error
	done chan struct{}
}

// settle applies st in the next batch and returns its answer. ctx bounds
// only the wait: a settlement already queued may still be applied after
// ctx ends, as any store write whose caller gave up may.
func (s *settler) settle(ctx context.Context, ws store.Waits, st store.Settlement, now func() time.Time) (store.Settled, error) {
	if g, ok := ws.(store.CommitGrouper); ok && g.GroupsCommits() {
		r, err := ws.SettleWaits(ctx, []store.Settlement{st}, now().UTC())
		if err != nil {
			return store.Settled{}, err
		}
		return r[0], nil
	}
	p := &settling{st: st, done: make(chan struct{})}
	s.mu.Lock()
	s.queue = append(s.queue, p)
	lead := !s.busy
	s.busy = true
	s.mu.Unlock()
	if lead {
		s.flush(context.WithoutCancel(ctx), ws, now, p.done)
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return store.Settled{}, ctx.Err()
	}
}

// flush commits the queue batch by batch. Once mine is answered it leaves
// the rest to a goroutine of its own, so a caller never keeps committing
// for others; the last flush to find the queue empty ends the run.
func (s *settler) flush(ctx context.Context, ws store.Waits, now func() time.Time, mine <-chan struct{}) {
	s.mu.Lock()
	for len(s.queue) > 0 {
		n := min(len(s.queue), maxSettleBatch)
		batch := append([]*settling(nil), s.queue[:n]...)
		s.queue = append(s.queue[:0], s.queue[n:]...)
		s.mu.Unlock()
		commit(ctx, ws, batch, now().UTC())
		s.mu.Lock()
		if mine == nil || len(s.queue) == 0 {
			continue
		}
		select {
		case <-mine:
			s.mu.Unlock()
			go s.flush(ctx, ws, now, nil)
			return
		default:
		}
	}
	s.busy = false
	s.mu.Unlock()
}

// commit applies batch in one SettleWaits call and answers each settling.
// When the batch fails as a whole (one invalid settlement, or a
// transaction that conflicted with another replica's), each is applied
// alone instead, so one settlement's failure is its own.
func commit(ctx context.Context, ws store.Waits, batch []*settling, at time.Time) {
	sts := make([]store.Settlement, len(batch))
	for i, p := range batch {
		sts[i] = p.st
	}
	res, err := ws.SettleWaits(ctx, sts, at)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			commit(ctx, ws, []*settling{p}, at)
		}
		return
	}
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.res = res[i]
		}
		close(p.done)
	}
}
