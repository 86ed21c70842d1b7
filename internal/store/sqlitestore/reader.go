package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// writerCacheKiB bounds the writer connection's page cache (SQLite's
// default is 2,000 KiB). A one-step run's writes touch under 500 KiB of
// pages over a history of 50,000 runs: BenchmarkOneStepRunWrites (32
// clients, commits=2) read 0.05 pages a run from the file with 1,000 KiB,
// 0.08 with 640, 0.12 with 500, 0.31 with 384 and 17 with 256 (a read is
// one pread of a page the OS caches). Each cached page also costs more
// than its size in modernc's allocator (a 4 KiB page and its header take
// an 8 KiB slot, seven to a 64 KiB region), so 640 KiB holds about 1.3 MiB
// where 1,000 held 2 MiB and the default 4: 640 keeps a margin above the
// working set measured for 0.03 reads a run more than 1,000.
const writerCacheKiB = 640

// readerCacheKiB bounds the page cache of each read connection. SQLite's
// default, 2,000 KiB, is kept by every connection of the pool once its
// reads have touched that many pages, in the process's own memory; a page
// beyond the bound is read again from the file, which the OS caches
// outside the process.
const readerCacheKiB = 256

// readerPragmas are applied on every connection of the read pool.
var readerPragmas = []string{"query_only(1)", fmt.Sprintf("cache_size(-%d)", readerCacheKiB)}

// reader runs the store's reads on the read pool with prepared statements:
// it prepares each query once and keeps it, and database/sql then prepares it
// once on each connection of the pool, so a read is not parsed again on every
// call. Queries are the package's own SQL, so the cache stays small.
//
// Preparing takes a connection of the pool, so the reader never prepares
// while it holds one, or while it holds its lock: with every connection held
// by a caller waiting for a statement, none would be free. A read
// transaction only uses the statements already prepared and prepares its
// other queries once it has let its connection go.
type reader struct {
	db *sql.DB

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// newReader returns a reader on the read pool db.
func newReader(db *sql.DB) *reader {
	return &reader{db: db, stmts: map[string]*sql.Stmt{}}
}

// cached returns query's prepared statement, or nil when there is none yet.
func (r *reader) cached(query string) *sql.Stmt {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.stmts[query]
}

// stmt returns query prepared on the pool, preparing it on first use. It
// must not be called while holding a connection of the pool.
func (r *reader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := r.cached(query); st != nil {
		return st, nil
	}
	st, err := r.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev := r.stmts[query]; prev != nil {
		st.Close() // another caller prepared it meanwhile
		return prev, nil
	}
	r.stmts[query] = st
	return st, nil
}

// QueryRowContext runs a query of at most one row.
func (r *reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, query)
	if err != nil {
		// The pool reports the same error, or ctx's, from the row's Scan.
		return r.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext runs a query.
func (r *reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// inTx runs fn in a read transaction, so its queries see one snapshot.
func (r *reader) inTx(ctx context.Context, fn func(*readTx) error) error {
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	rtx := &readTx{r: r, tx: tx}
	err = fn(rtx)
	tx.Rollback() // read-only: nothing to commit
	for _, query := range rtx.unprepared {
		r.stmt(ctx, query) // for the next call; this one is done
	}
	return err
}

// close closes the prepared statements and the pool.
func (r *reader) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, st := range r.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, r.db.Close())...)
}

// readTx is a read transaction whose queries use the reader's prepared
// statements.
type readTx struct {
	r  *reader
	tx *sql.Tx
	// unprepared holds the queries that had no prepared statement.
	unprepared []string
}

// QueryRowContext runs a query of at most one row in the transaction.
func (t *readTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.r.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	t.unprepared = append(t.unprepared, query)
	return t.tx.QueryRowContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (t *readTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.r.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	t.unprepared = append(t.unprepared, query)
	return t.tx.QueryContext(ctx, query, args...)
}
