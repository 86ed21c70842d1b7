package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// maxGroup caps how many writes share one transaction, so one group never
// holds the file's write lock for long.
const maxGroup = 256

// errClosed is returned by every write made after Close.
var errClosed = errors.New("sqlite store is closed")

// writer owns the store's one write connection and commits writes in groups.
// Callers queue writes; one goroutine takes whatever is queued, and what
// arrives while it works, up to its cap, applies them in one BEGIN
// IMMEDIATE transaction (a write that fails is undone alone; see commit),
// commits once, and only then answers every caller. With
// synchronous=FULL each commit costs an fsync, which a group shares instead
// of paying it per write. Statements are prepared on the connection once,
// and run on its driver connection directly (see driverConn).
type writer struct {
	conn     *sql.Conn
	dc       *driverConn // conn's driver connection, taken on first use
	maxGroup int
	// stmts holds the statements prepared on conn, by query. Only the loop
	// goroutine touches it.
	stmts map[string]*prepared
	// tx is what every write sees of its transaction, kept for the next
	// write (with its encoded times; see wtx.time). Only the loop goroutine
	// touches it.
	tx wtx

	// observe reports how long each group's COMMIT took (op "commit"):
	// the WAL's write and fsync, which every caller of the group waits for.
	observe func(op string, start time.Time)

	mu     sync.Mutex
	queue  []*write
	later  []*write // background writes, oldest first; see doBackground
	closed bool

	wake chan struct{} // holds a token when the queue may have work
	done chan struct{} // closed when the loop has returned

	// groups counts the transactions begun, for tests and benchmarks.
	groups atomic.Int64
	// execs counts the statements run on conn (BEGIN and COMMIT
	// included), for tests and benchmarks.
	execs atomic.Int64
}

// The states of a write: queued, taken by the writer (its caller waits for
// the commit), or abandoned by its caller (the writer skips it).
const (
	writeQueued int32 = iota
	writeTaken
	writeAbandoned
)

// write is one caller's write.
type write struct {
	fn func(context.Context, *wtx) error
	// raw, when set instead of fn, runs on the connection outside any
	// transaction, alone: for statements a transaction refuses, such as a
	// WAL checkpoint.
	raw func(context.Context, *sql.Conn) error
	// background writes run alone, when no other write waits; see
	// doBackground.
	background bool
	queued     time.Time     // when a background write was queued
	began      time.Time     // when the writer took it
	held       time.Duration // how long it held the writer, set before done is closed
	state      atomic.Int32
	err        error         // set before done is closed
	done       chan struct{} // closed when the write is answered
}

// prepared is a statement prepared on the writer's connection: on the
// driver connection once it is executed (see driverConn), and on conn once
// it is queried (see wtx.QueryRowContext).
type prepared struct {
	ds driverStmt // nil until the statement is executed
	ss *sql.Stmt  // nil until the statement is queried
}

// newWriter starts the writer's goroutine on conn, which it owns from now on.
// observe, when not nil, receives each group's commit time.
func newWriter(conn *sql.Conn, maxGroup int, observe func(op string, start time.Time)) *writer {
	if observe == nil {
		observe = func(string, time.Time) {}
	}
	w := &writer{
		conn:     conn,
		maxGroup: maxGroup,
		observe:  observe,
		stmts:    map[string]*prepared{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	w.tx.w = w
	go w.loop()
	return w
}

// do runs fn as one write and returns once the transaction that holds it has
// committed, with fn's error, or the commit's. fn may be run more than once,
// each time in a fresh transaction state (see commit). fn gets the writer's
// context, not ctx: a cancelled statement would roll back the whole group.
// ctx bounds only the wait for the writer: a call cancelled before its write
// was taken returns ctx's error having written nothing; once taken, it waits
// for the commit and returns what it wrote.
func (w *writer) do(ctx context.Context, fn func(context.Context, *wtx) error) error {
	return w.queueWrite(ctx, &write{fn: fn, done: make(chan struct{})})
}

// doRaw runs fn on the write connection outside any transaction, between two
// groups, and returns its error. Like do, ctx bounds only the wait.
func (w *writer) doRaw(ctx context.Context, fn func(context.Context, *sql.Conn) error) error {
	return w.queueWrite(ctx, &write{raw: fn, done: make(chan struct{})})
}

// backgroundStarve is the longest a background write waits for the writer
// to be idle: past it, it runs before the writes queued after it, so work
// that must get done (the WAL's catch-up, the retention) still does under
// writes that never pause.
const backgroundStarve = 250 * time.Millisecond

// doBackground runs fn as a write of the background class: maintenance that
// can wait (the retention's deletes, incremental vacuum, the WAL's
// catch-up). It runs in a transaction of its own that no other write joins,
// and only when no other write is queued (or once it has waited
// backgroundStarve), so a caller's write never shares its commit and waits
// behind at most one background write. It returns how long the write held
// the writer, its commit included, so the caller can size the next one.
// With raw set instead of fn, raw runs outside any transaction, as doRaw.
func (w *writer) doBackground(ctx context.Context, fn func(context.Context, *wtx) error,
	raw func(context.Context, *sql.Conn) error) (time.Duration, error) {
	wr := &write{fn: fn, raw: raw, background: true, done: make(chan struct{})}
	err := w.queueWrite(ctx, wr)
	return wr.held, err
}

// queueWrite queues wr and waits for its answer; see do.
func (w *writer) queueWrite(ctx context.Context, wr *write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	if wr.background {
		wr.queued = time.Now()
		w.later = append(w.later, wr)
	} else {
		w.queue = append(w.queue, wr)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // the loop is awake already
	}

	select {
	case <-wr.done:
		return wr.err
	case <-ctx.Done():
		if wr.state.CompareAndSwap(writeQueued, writeAbandoned) {
			return ctx.Err()
		}
		<-wr.done
		return wr.err
	}
}

// close commits the writes queued so far, stops the loop, and closes the
// connection. Writes made later fail with errClosed.
func (w *writer) close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	var errs []error
	for _, st := range w.stmts {
		if st.ss != nil {
			errs = append(errs, st.ss.Close())
		}
		if st.ds != nil {
			errs = append(errs, st.ds.Close())
		}
	}
	return errors.Join(append(errs, w.conn.Close())...)
}

// loop commits the queue group by group until the writer is closed and the
// queue is empty.
func (w *writer) loop() {
	defer close(w.done)
	for range w.wake {
		for {
			group, bg, closed := w.next()
			if bg != nil {
				w.runBackground(bg)
				continue
			}
			if len(group) == 0 {
				if closed {
					return
				}
				break
			}
			for len(group) > 0 {
				if group[0].raw != nil {
					w.runRaw(group[0])
					group = group[1:]
					continue
				}
				// A raw write ends the transaction's part of the group.
				i := 1
				for i < len(group) && group[i].raw == nil {
					i++
				}
				group = append(w.commit(group[:i], true), group[i:]...)
			}
		}
	}
}

// runBackground runs a background write alone and answers it, with the
// time it held the writer.
func (w *writer) runBackground(wr *write) {
	wr.began = time.Now()
	if wr.raw != nil {
		w.runRaw(wr)
		return
	}
	for rest := []*write{wr}; len(rest) > 0; {
		rest = w.commit(rest, false)
	}
}

// next returns what the writer runs next: the oldest background write when
// it has waited backgroundStarve, else up to maxGroup queued writes, else
// the oldest background write; and whether the writer is closed.
func (w *writer) next() (group []*write, bg *write, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.later) > 0 && (len(w.queue) == 0 || time.Since(w.later[0].queued) >= backgroundStarve) {
		bg = w.later[0]
		w.later = append(w.later[:0], w.later[1:]...)
		return nil, bg, w.closed
	}
	n := min(w.maxGroup, len(w.queue))
	return w.takeLocked(n), nil, w.closed
}

// runRaw runs a raw write alone, outside any transaction, and answers it.
func (w *writer) runRaw(wr *write) {
	if !wr.state.CompareAndSwap(writeQueued, writeTaken) {
		return // its caller gave up
	}
	wr.answer(wr.raw(context.Background(), w.conn))
}

// takeTx takes up to n queued writes for a transaction's late joiners: it
// stops before the first raw write, which must run outside the transaction.
func (w *writer) takeTx(n int) []*write {
	w.mu.Lock()
	defer w.mu.Unlock()
	n = min(n, len(w.queue))
	for i, wr := range w.queue[:n] {
		if wr.raw != nil {
			n = i
			break
		}
	}
	return w.takeLocked(n)
}

// takeLocked removes the first n writes of the queue; w.mu is held.
func (w *writer) takeLocked(n int) []*write {
	writes := append([]*write(nil), w.queue[:n]...)
	w.queue = append(w.queue[:0], w.queue[n:]...)
	return writes
}

// commit applies the writes of group in one transaction, with the writes
// queued while it does, up to maxGroup, and answers them once it has
// committed. Taking late writes into the running group, rather than leaving
// them for the next, keeps callers from splitting into two cohorts that
// take turns, each paying its own commit.
//
// Writes are applied optimistically, without a savepoint each: almost every
// write succeeds, and the savepoints would triple the statements a group
// runs. When a write fails, the transaction is rolled back and the group is
// applied again in a new one, each write in its own savepoint, so the failed
// write is undone alone (see applyEach): a failure costs its group one more
// transaction. When the transaction breaks (SQLite rolled it back, as after
// an I/O error), the writes applied fail.
//
// A group of background writes (join false) takes no late writes.
func (w *writer) commit(group []*write, join bool) (rest []*write) {
	ctx := context.Background()
	live := false
	for _, wr := range group {
		live = live || wr.state.Load() == writeQueued
	}
	if !live {
		return nil
	}
	if err := w.begin(ctx); err != nil {
		for _, wr := range group {
			if wr.state.CompareAndSwap(writeQueued, writeTaken) {
				wr.answer(err)
			}
		}
		return nil
	}

	var taken []*write
	failed := false
	for !failed && len(group) > 0 {
		for i, wr := range group {
			if !wr.state.CompareAndSwap(writeQueued, writeTaken) {
				continue // its caller gave up
			}
			taken = append(taken, wr)
			if wr.err = wr.fn(ctx, &w.tx); wr.err != nil {
				rest, failed = group[i+1:], true
				break
			}
		}
		group = nil
		if !failed && join && len(taken) < w.maxGroup {
			group = w.takeTx(w.maxGroup - len(taken))
		}
	}
	if failed {
		w.exec(ctx, `ROLLBACK`)
		for _, wr := range rest {
			if wr.state.CompareAndSwap(writeQueued, writeTaken) {
				taken = append(taken, wr)
			}
		}
		return w.applyEach(ctx, taken)
	}
	w.finish(ctx, taken, nil)
	return nil
}

// applyEach applies taken, the writes of a failed group, in a new
// transaction, each in its own savepoint, and answers them once it has
// committed. When the transaction breaks, the writes applied fail and
// applyEach returns the rest, for a new transaction.
func (w *writer) applyEach(ctx context.Context, taken []*write) (rest []*write) {
	if err := w.begin(ctx); err != nil {
		for _, wr := range taken {
			wr.answer(err)
		}
		return nil
	}
	var broken error
	for i, wr := range taken {
		if wr.err, broken = w.apply(ctx, wr.fn); broken != nil {
			// Unapplied writes are taken already: they go back as queued.
			for _, r := range taken[i+1:] {
				r.state.Store(writeQueued)
			}
			rest, taken = taken[i+1:], taken[:i+1]
			break
		}
	}
	w.finish(ctx, taken, broken)
	return rest
}

// begin starts a group's transaction.
func (w *writer) begin(ctx context.Context) error {
	if _, err := w.exec(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.groups.Add(1)
	return nil
}

// finish commits the transaction that holds taken, unless it is broken, and
// answers each write: with its own result once committed, or with the
// failure of the transaction.
func (w *writer) finish(ctx context.Context, taken []*write, broken error) {
	err := broken
	if err == nil {
		start := time.Now()
		if _, err = w.exec(ctx, `COMMIT`); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
		w.observe("commit", start)
	}
	if err != nil {
		w.exec(ctx, `ROLLBACK`) // may fail: SQLite may have rolled back already
		for _, wr := range taken {
			// Every write saw the group's state, which is gone: even a
			// refusal may have rested on it.
			wr.err = err
		}
	}
	for _, wr := range taken {
		wr.close()
	}
}

// apply runs fn in a savepoint, released when fn succeeds and rolled back
// when it fails. It returns fn's error, and broken when the transaction
// itself failed, so the group cannot commit.
func (w *writer) apply(ctx context.Context, fn func(context.Context, *wtx) error) (err, broken error) {
	if _, err := w.exec(ctx, `SAVEPOINT write`); err != nil {
		return err, fmt.Errorf("savepoint: %w", err)
	}
	if err = fn(ctx, &w.tx); err != nil {
		if _, rbErr := w.exec(ctx, `ROLLBACK TO write`); rbErr != nil {
			return err, fmt.Errorf("transaction failed after %w (rollback to savepoint: %w)", err, rbErr)
		}
	}
	if _, relErr := w.exec(ctx, `RELEASE write`); relErr != nil {
		return errors.Join(err, relErr), fmt.Errorf("release savepoint: %w", relErr)
	}
	return err, nil
}

// answer answers wr with err.
func (wr *write) answer(err error) {
	wr.err = err
	wr.close()
}

// close answers wr with the error it holds.
func (wr *write) close() {
	if wr.background {
		wr.held = time.Since(wr.began)
	}
	close(wr.done)
}

// prepared returns the statements of query, in the map on first use.
func (w *writer) prepared(query string) *prepared {
	st, ok := w.stmts[query]
	if !ok {
		st = &prepared{}
		w.stmts[query] = st
	}
	return st
}

// stmt returns query prepared on conn, for a query through database/sql,
// preparing it on first use.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st := w.prepared(query)
	if st.ss == nil {
		ss, err := w.conn.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		st.ss = ss
	}
	return st.ss, nil
}

// exec runs a statement on the driver connection, taking the connection and
// preparing the statement on first use.
func (w *writer) exec(ctx context.Context, query string, args ...any) (driver.Result, error) {
	w.execs.Add(1)
	if w.dc == nil {
		dc, err := rawDriverConn(w.conn)
		if err != nil {
			return nil, err
		}
		w.dc = dc
	}
	st := w.prepared(query)
	if st.ds == nil {
		ds, err := w.dc.prepare(ctx, query)
		if err != nil {
			return nil, err
		}
		st.ds = ds
	}
	return w.dc.exec(ctx, st.ds, args)
}

// wtx is what one write sees of the group transaction: statements run in its
// savepoint, prepared once per connection. The writer keeps one, which its
// writes share, one at a time: a write must not keep it past its return.
type wtx struct {
	w *writer
	// times holds the last times encoded by the writer's writes; see time.
	times timeMemo
}

// ExecContext runs a statement that returns no rows.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (driver.Result, error) {
	return t.w.exec(ctx, query, args...)
}

// QueryRowContext runs a query of at most one row.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	t.w.execs.Add(1)
	st, err := t.w.stmt(ctx, query)
	if err != nil {
		// The connection reports the same error from the row's Scan.
		return t.w.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// time returns t as stored, as encodeTime does, reusing the encoding of a
// time the writer encoded lately.
func (t *wtx) time(at time.Time) any {
	return t.times.time(at)
}

// json returns b as stored, as encodeJSON does, without copying it: the
// string shares b's bytes. That holds because the driver copies what it
// binds and keeps no argument past its statement, and b does not change
// while the write runs: its caller waits for the write's answer (see
// writer.do) and does not change the bytes it handed to the store.
func (t *wtx) json(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
