package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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

// write is a unit of one or more statements waiting for its transaction:
// they commit together or not at all.
type write struct {
	ctx   context.Context
	stmts []stmt
	done  chan struct{}
	// tag is the outcome of the last statement.
	tag pgconn.CommandTag
	err error
}

// stmt is one statement of a write, its query qualified (see Store.sql).
type stmt struct {
	sql  string
	args []any
}

// groupExec runs query as exec documents, sharing its transaction with the
// statements other goroutines run at the same moment; see groupWrite.
func (s *Store) groupExec(ctx context.Context, query string, args []any) (pgconn.CommandTag, error) {
	return s.groupWrite(ctx, []stmt{{sql: query, args: args}})
}

// GroupExec runs query, its tables qualified by the caller with the
// store's schema, as one of the store's single-statement writes: it shares
// a round trip and a commit with the writes made at the same moment (see
// groupWrite) and returns once it committed. The scale-out host deletes a
// held job with it once the runs it guarded all ended.
func (s *Store) GroupExec(ctx context.Context, query string, args ...any) error {
	_, err := s.groupExec(ctx, query, args)
	return err
}

// groupWrite runs stmts in one transaction, sharing it with the writes
// other goroutines make at the same moment: a batch of them is sent in one
// round trip and commits once, as one implicit transaction. The caller
// returns once its statements committed, so they are as durable as when
// they commit alone. A batch that fails for a reason other than the
// database being unavailable runs its writes again one by one, so each
// gets its own outcome; when the database is unavailable every write of
// the batch gets that error, as the commit may have happened (as for one
// statement whose commit was not answered). The outcome returned is that
// of the last statement; only an error says which statement failed.
func (s *Store) groupWrite(ctx context.Context, stmts []stmt) (pgconn.CommandTag, error) {
	w := &write{ctx: ctx, stmts: stmts, done: make(chan struct{})}
	s.writes.Add(w)
	select {
	case <-w.done:
		return w.tag, w.err
	case <-ctx.Done():
		// The statements may still commit, as when a commit's answer is
		// lost.
		return pgconn.CommandTag{}, ctx.Err()
	}
}

// commitWrites runs batch in one implicit transaction and answers each
// write; see groupWrite.
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
		live[0].alone(s.pool)
		return
	}
	// The batch outlives a caller that gives up while it runs, as it holds
	// the other callers' statements too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), time.Minute)
	defer cancel()
	b := &pgx.Batch{}
	for _, w := range live {
		for _, st := range w.stmts {
			b.Queue(st.sql, st.args...)
		}
	}
	res := s.pool.SendBatch(ctx, b)
	var err error
read:
	for _, w := range live {
		for range w.stmts {
			if w.tag, err = res.Exec(); err != nil {
				break read
			}
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
		w.alone(s.pool)
	}
}

// alone runs w in a transaction of its own: one statement as it is, more in
// one implicit transaction.
func (w *write) alone(pool *pgxpool.Pool) {
	if len(w.stmts) == 1 {
		w.tag, w.err = pool.Exec(w.ctx, w.stmts[0].sql, w.stmts[0].args...)
		w.err = classify(w.err)
		return
	}
	b := &pgx.Batch{}
	for _, st := range w.stmts {
		b.Queue(st.sql, st.args...)
	}
	res := pool.SendBatch(w.ctx, b)
	for range w.stmts {
		if w.tag, w.err = res.Exec(); w.err != nil {
			break
		}
	}
	if err := res.Close(); w.err == nil {
		w.err = err
	}
	if w.err != nil {
		w.tag = pgconn.CommandTag{}
	}
	w.err = classify(w.err)
}
