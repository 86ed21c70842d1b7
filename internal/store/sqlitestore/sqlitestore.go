// Package sqlitestore implements store.Store on one SQLite file, with the
// pure-Go modernc.org/sqlite driver. It is Herald's default store:
// sqlite://<dir>/.herald/herald.db.
//
// The file runs in WAL mode with synchronous=FULL, so a write is on disk, safe
// from a power loss, when its method returns, and readers never wait for the
// writer. Writes go to one goroutine that owns the single write connection
// and commits them in groups (see writer): the writes queued, and those that
// arrive while the group is being applied, share one BEGIN IMMEDIATE
// transaction and its one fsync; a write that fails is undone alone (the
// group is applied again with a savepoint per write), and each caller
// returns once the commit that holds its write is durable. UpdateRun starts
// from a cache of the runs this Store wrote, guarded by the run's version. Goroutines of one process thus queue rather than
// fail with SQLITE_BUSY, and other processes on the same file wait out
// busy_timeout. Reads use a separate pool. Every statement is prepared once
// per connection and reused. The schema is applied on Open from numbered,
// embedded migrations recorded in schema_migrations.
//
// The package holds SQL only; the rules of the data live in package store.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DefaultBusyTimeout is how long a connection waits for another process's
// lock before failing with SQLITE_BUSY, unless Options.BusyTimeout says
// otherwise.
const DefaultBusyTimeout = 10 * time.Second

// maxProbeWait caps how long Ping waits for the write lock.
const maxProbeWait = 2 * time.Second

// Options configure a Store opened with OpenWith.
type Options struct {
	// BusyTimeout is how long a write waits for a lock that another
	// process holds before it fails with store.ErrUnavailable; zero means
	// DefaultBusyTimeout. Ping waits at most the shorter of it and 2s.
	BusyTimeout time.Duration
}

// Store is a store.Store on one SQLite file. Use Open, OpenWith or OpenDSN.
type Store struct {
	path string
	busy time.Duration // the connections' busy_timeout
	db   *sql.DB       // one connection, held by w: SQLite has one writer at a time
	w    *writer
	read *reader // the read-only pool, concurrent under WAL
	runs store.RunCache
	// probe opens a new connection for each Ping, so Ping sees the file as
	// it is on disk rather than pages cached by a long-lived connection.
	probe *sql.DB

	// ckpt copies the WAL into the file outside the writer's commits.
	ckpt *checkpointer
	// pruneSize and vacuumSize size the retention's background writes;
	// see stepSize.
	pruneSize, vacuumSize *stepSize
	// waitObs, when set, receives the time callers wait on the writer; see
	// ObserveWaits.
	waitObs atomic.Pointer[func(op string, d time.Duration)]

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path, creating its parent
// directories, and migrates its schema.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, Options{}, maxGroup)
}

// OpenWith opens the store at path as Open does, with opts.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	return open(ctx, path, opts, maxGroup)
}

// open opens the store with writes committed in groups of up to group
// writes; 1 commits every write on its own.
func open(ctx context.Context, path string, opts Options, group int) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if path == "" {
		return nil, fmt.Errorf("open sqlite store: %w: path is empty", store.ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}

	// temp_store(MEMORY) keeps the savepoints' sub-journals, which hold the
	// pages a write changed until its group commits, out of temporary files.
	// auto_vacuum(INCREMENTAL) takes effect on a new file (set before its
	// first table); an older file is converted once by incrementalVacuum.
	busy := opts.BusyTimeout
	// Only the writer writes the WAL, so only it needs walbuf's buffer;
	// readers see what it published, which is on disk first.
	vfs, err := writerVFSParam()
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	write, err := sql.Open("sqlite", connString(abs, busy,
		"auto_vacuum(INCREMENTAL)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "temp_store(MEMORY)",
		// The checkpointer copies the WAL, not the writer's commits; see
		// checkpoint.go.
		"wal_autocheckpoint(0)", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit),
		fmt.Sprintf("cache_size(-%d)", writerCacheKiB))+"&_txlock=immediate"+vfs)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	if err := incrementalVacuum(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}

	conn, err := write.Conn(ctx)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}

	read, err := sql.Open("sqlite", connString(abs, busy, readerPragmas...))
	if err != nil {
		conn.Close()
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	conns := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(conns)
	read.SetMaxIdleConns(conns)

	// The probe's connection is not kept (no idle connections): each Ping
	// reads the file afresh.
	probe, err := sql.Open("sqlite", connString(abs, min(busy, maxProbeWait)))
	if err != nil {
		read.Close()
		conn.Close()
		write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	probe.SetMaxOpenConns(1)
	probe.SetMaxIdleConns(0)

	s := &Store{path: abs, busy: busy, db: write, read: newReader(read), probe: probe}
	s.w = newWriter(conn, group, s.observeWait)
	s.pruneSize, s.vacuumSize = newPruneSize(), newVacuumSize()
	if s.ckpt, err = startCheckpointer(s, abs); err != nil {
		s.ckpt = nil
		s.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	return s, nil
}

// incrementalVacuum converts a file created without auto_vacuum=INCREMENTAL
// (by an older herald) with one VACUUM, so pruned runs give their space
// back (see Compact). It runs once per file: later opens find it converted.
func incrementalVacuum(ctx context.Context, db *sql.DB) error {
	var mode int
	if err := db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode == 2 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("set auto_vacuum: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("vacuum to enable incremental vacuum: %w", err)
	}
	return nil
}

// OpenDSN opens the store a sqlite:// DSN names; see store.ParseDSN.
func OpenDSN(ctx context.Context, dsn string) (*Store, error) {
	d, err := store.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if d.Driver != store.DriverSQLite {
		return nil, fmt.Errorf("open sqlite store: %w: dsn is for the %s driver", store.ErrInvalid, d.Driver)
	}
	return OpenWith(ctx, d.Path, Options{BusyTimeout: d.BusyTimeout})
}

// connString returns the modernc DSN for the file at abs with busy_timeout and
// the given pragmas applied on every new connection.
func connString(abs string, busy time.Duration, pragmas ...string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Ping reports whether the database accepts writes now. On a new
// connection, so no cached page hides the file's state, it takes the write
// lock (BEGIN IMMEDIATE), waiting at most the shorter of the busy timeout
// and 2s, reads the schema and the first page of each table, and rolls
// back: a lock another process holds, a read-only or damaged file is an
// error wrapping store.ErrUnavailable. It writes nothing.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", classify(err))
	}
	return nil
}

// probeQueries read the first page of every table, where damage to the file
// shows even when the schema itself is intact.
var probeQueries = []string{
	`SELECT COUNT(*) FROM schema_migrations`,
	`SELECT COUNT(*) FROM (SELECT 1 FROM runs LIMIT 1)`,
	`SELECT COUNT(*) FROM (SELECT 1 FROM idempotency_keys LIMIT 1)`,
	`SELECT COUNT(*) FROM (SELECT 1 FROM step_records LIMIT 1)`,
	`SELECT COUNT(*) FROM (SELECT 1 FROM step_attempts LIMIT 1)`,
	`SELECT COUNT(*) FROM (SELECT 1 FROM cron_state LIMIT 1)`,
}

func (s *Store) ping(ctx context.Context) error {
	conn, err := s.probe.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), `ROLLBACK`)
	for _, q := range probeQueries {
		var n int
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string {
	return s.path
}

// Close commits the writes already queued, then closes the write connection
// and the read pool. Calls after the first return nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		var errs []error
		if s.ckpt != nil {
			errs = append(errs, s.ckpt.close())
		}
		s.closeErr = errors.Join(append(errs, s.w.close(), s.db.Close(), s.read.close(), s.probe.Close())...)
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// ObserveWaits makes the store report to fn how long each caller of a
// timed write waited, from the call to the durable commit of its group
// (queueing for the writer included): op is "create_run" for a trigger's new
// run, and "prune_runs", "vacuum" and "checkpoint" for the retention's
// steps. fn must be quick and safe for concurrent use; nil stops reporting.
func (s *Store) ObserveWaits(fn func(op string, d time.Duration)) {
	if fn == nil {
		s.waitObs.Store(nil)
		return
	}
	s.waitObs.Store(&fn)
}

// observeWait reports the wait of op begun at start, when observed.
func (s *Store) observeWait(op string, start time.Time) {
	if fn := s.waitObs.Load(); fn != nil {
		(*fn)(op, time.Since(start))
	}
}

// withTx runs fn as one write, atomic and durable when withTx returns nil;
// see writer.do. fn gets the writer's context, which its statements must use.
// fn may run more than once (when another write of its group fails, the
// group is applied again), so it must set every result it hands back from
// scratch on each run.
func (s *Store) withTx(ctx context.Context, fn func(context.Context, *wtx) error) error {
	return classify(s.w.do(ctx, fn))
}

// querier runs a query of one row: the reader, a read transaction or a
// write's savepoint.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runExists reports an ErrNotFound error when no run has the given ID.
func runExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return err
}
