package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

// Group collects the calls made at once into batches, a group commit: Add
// queues an item and, while fewer than MaxInFlight batches are running,
// starts one; a batch takes up to MaxBatch queued items and, when it ends,
// the items queued meanwhile. Commit runs one batch and must answer each of
// its items (each caller waits on its own item). The zero Group is not
// usable; set Commit, MaxBatch and MaxInFlight.
type Group[T any] struct {
	Commit      func(batch []T)
	MaxBatch    int
	MaxInFlight int

	mu       sync.Mutex
	pending  []T
	inFlight int
}

// Add queues item for the next batch.
func (g *Group[T]) Add(item T) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(g.pending, item)
	if g.inFlight < g.MaxInFlight {
		g.inFlight++
		go g.loop(g.takeLocked())
	}
}

// takeLocked removes up to MaxBatch queued items and returns them. g.mu
// must be held.
func (g *Group[T]) takeLocked() []T {
	n := min(len(g.pending), g.MaxBatch)
	batch := make([]T, n)
	copy(batch, g.pending)
	g.pending = append(g.pending[:0], g.pending[n:]...)
	return batch
}

// loop commits batch, then the items queued meanwhile, until none are.
func (g *Group[T]) loop(batch []T) {
	for {
		g.Commit(batch)
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.inFlight--
			g.mu.Unlock()
			return
		}
		batch = g.takeLocked()
		g.mu.Unlock()
	}
}

// Bounds of the group commit of single statements (see Store.exec).
const (
	// maxWriteBatch is the most statements one transaction carries.
	maxWriteBatch = 64
	// maxWriteTxs is the most of those transactions in flight at once.
	maxWriteTxs = 8
)

// write is one statement waiting for its transaction.
type write struct {
	ctx  context.Context
	sql  string
	args []any
	done chan struct{}
	tag  pgconn.CommandTag
	err  error
}

// groupExec runs query as exec documents, sharing its transaction with the
// statements other goroutines run at the same moment: a batch of them is
// sent in one round trip and commits once, as one implicit transaction. The
// caller returns once its statement committed, so each statement is as
// durable as when it commits alone. A batch that fails for a reason other
// than the database being unavailable runs its statements again one by one,
// so each gets its own outcome; when the database is unavailable every
// statement of the batch gets that error, as the commit may have happened
// (as for one statement whose commit was not answered).
func (s *Store) groupExec(ctx context.Context, query string, args []any) (pgconn.CommandTag, error) {
	w := &write{ctx: ctx, sql: query, args: args, done: make(chan struct{})}
	s.writes.Add(w)
	select {
	case <-w.done:
		return w.tag, w.err
	case <-ctx.Done():
		// The statement may still commit, as when a commit's answer is
		// lost.
		return pgconn.CommandTag{}, ctx.Err()
	}
}

// commitWrites runs batch in one implicit transaction and answers each
// statement; see groupExec.
func (s *Store) commitWrites(batch []*write) {
	live := batch[:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			close(w.done)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	defer func() {
		for _, w := range live {
			close(w.done)
		}
	}()
	if len(live) == 1 {
		w := live[0]
		w.tag, w.err = s.pool.Exec(w.ctx, w.sql, w.args...)
		w.err = classify(w.err)
		return
	}
	// The batch outlives a caller that gives up while it runs, as it holds
	// the other callers' statements too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), time.Minute)
	defer cancel()
	b := &pgx.Batch{}
	for _, w := range live {
		b.Queue(w.sql, w.args...)
	}
	res := s.pool.SendBatch(ctx, b)
	var err error
	for _, w := range live {
		w.tag, err = res.Exec()
		if err != nil {
			break
		}
	}
	// Close reads the outcome of the commit, which comes after the last
	// statement's.
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return
	}
	err = classify(err)
	for _, w := range live {
		w.tag = pgconn.CommandTag{}
		if errors.Is(err, store.ErrUnavailable) {
			w.err = err
			continue
		}
		w.tag, w.err = s.pool.Exec(w.ctx, w.sql, w.args...)
		w.err = classify(w.err)
	}
}
