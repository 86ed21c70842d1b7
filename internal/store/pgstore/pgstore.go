// Package pgstore implements store.Store on PostgreSQL with pgx, so several
// herald serve processes can share one store and its work (scale-out).
//
// A Store lives in one schema of a database: the first schema of the DSN's
// search_path, Options.Schema, or else the connection's current schema, so
// several projects, or tests, can share a database. Opening creates the schema
// when it is missing and brings it up to date from numbered, embedded
// migrations recorded in schema_migrations. Migrations run in one transaction
// that holds a PostgreSQL advisory lock, so replicas starting at once apply
// each step once, and a schema newer than this binary is refused.
//
// Every write is a single statement or one short transaction, and races are
// settled by the database, never in the process: INSERT … ON CONFLICT with row
// locks makes racing idempotency claims from any number of hosts create one
// run, and UpdateRun is optimistic on a version column. No data is kept
// in the process, so any number of Stores may share a schema. The pgx pool
// replaces connections lost when the server restarts; a call made while the
// server is down returns an error that wraps the cause, and the caller retries.
//
// The package holds SQL only; the rules of the data live in package store. It
// never schedules, retries or calls plugins, and it touches no table outside
// its schema, so it can share a pool with River.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/store"
)

// maxIdentifier is the longest name PostgreSQL keeps; it truncates longer ones.
const maxIdentifier = 63

// Options configure a Store opened with OpenPool.
type Options struct {
	// Schema is the schema that holds the store's tables, taken as an exact
	// name (no case folding); it is created when it is missing. Empty means
	// the connection's current schema: the first existing one on its
	// search_path.
	Schema string
	// SkipMigrate opens the store without reading or changing its schema, for
	// a command that calls Migrate itself to report what it applied. The
	// store fails until its schema is migrated.
	SkipMigrate bool
}

// Store is a store.Store on a PostgreSQL schema. Use Open, OpenDSN or
// OpenPool.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	schema   string
	// names qualifies the table names of a query with the store's schema.
	names  *strings.Replacer
	closed atomic.Bool
	// writes group-commits the statements exec runs.
	writes Group[*write]
	// runs spares updateRun its read of a run this process knows. Every
	// statement that changes a run's row raises its version, except the
	// heartbeat, which updateRunSQL keeps with GREATEST.
	runs store.RunCache
	// onRunEnd, when set, adds a statement to the transaction that ends a
	// run (see SetRunEndHook).
	onRunEnd atomic.Pointer[RunEndHook]
}

var _ store.Store = (*Store)(nil)

// errClosed is returned by every method called after Close.
var errClosed = errors.New("postgres store is closed")

// Open connects to the database a pgx connection string names, as a URL
// ("postgres://user@host:5432/db?sslmode=disable") or as keyword/value
// pairs, and opens the store in the first schema of its search_path
// parameter, or in the connection's current schema when it has none. The
// store owns its connection pool; pool settings such as pool_max_conns are
// read from the string. Errors never echo the string, which may hold a
// password.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("open postgres store: %w: dsn is empty", store.ErrInvalid)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w: %w", store.ErrInvalid, dsnError(err))
	}
	schema, err := searchPathSchema(cfg.ConnConfig.RuntimeParams["search_path"])
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "herald"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s, err := open(ctx, pool, true, Options{Schema: schema})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// OpenDSN opens the store a postgres:// or postgresql:// DSN names, as given
// by --store or HERALD_STORE; see store.ParseDSN and Open.
func OpenDSN(ctx context.Context, dsn string) (*Store, error) {
	d, err := store.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if d.Driver != store.DriverPostgres {
		return nil, fmt.Errorf("open postgres store: %w: dsn is for the %s driver", store.ErrInvalid, d.Driver)
	}
	return Open(ctx, d.URL)
}

// OpenPool opens the store on a pool the caller owns and may share, for
// example with River. Close leaves the pool open. The store's schema is
// opts.Schema, whatever the pool's search_path says, except when opts.Schema
// is empty.
func OpenPool(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("open postgres store: %w: pool is nil", store.ErrInvalid)
	}
	return open(ctx, pool, false, opts)
}

// open resolves the schema, builds the Store and migrates it unless told not
// to.
func open(ctx context.Context, pool *pgxpool.Pool, ownsPool bool, opts Options) (*Store, error) {
	schema := opts.Schema
	if schema == "" {
		var current *string
		if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
			return nil, fmt.Errorf("open postgres store: read current schema: %w", err)
		}
		if current == nil {
			return nil, fmt.Errorf("open postgres store: %w: search_path names no existing schema; set search_path in the dsn", store.ErrInvalid)
		}
		schema = *current
	}
	if err := validSchema(schema); err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{
		pool:     pool,
		ownsPool: ownsPool,
		schema:   schema,
		names:    strings.NewReplacer("{schema}.", pgx.Identifier{schema}.Sanitize()+"."),
	}
	s.writes = Group[*write]{Commit: s.commitWrites, MaxBatch: maxWriteBatch, MaxInFlight: maxWriteTxs}
	if !opts.SkipMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("open postgres store in schema %s: %w", schema, err)
		}
	}
	return s, nil
}

// Schema returns the name of the schema that holds the store's tables.
func (s *Store) Schema() string {
	return s.schema
}

// Pool returns the store's connection pool, to share it. A pool the store
// opened itself is closed by Close.
func (s *Store) Pool() *pgxpool.Pool {
	return s.pool
}

// Ping reports whether the database accepts writes now: in a transaction
// that it rolls back, it checks that the server would take a write (it is
// not a standby, and transactions are not read-only by default) and that the
// store's schema is there. A server that cannot be reached or is read-only
// is an error wrapping store.ErrUnavailable. It writes nothing.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("ping postgres store: %w", errClosed)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ping postgres store: %w", classify(err))
	}
	defer tx.Rollback(context.Background())
	var (
		readOnly string
		version  int
	)
	if err := tx.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&readOnly); err != nil {
		return fmt.Errorf("ping postgres store: %w", classify(err))
	}
	if readOnly == "on" {
		return fmt.Errorf("ping postgres store: %w: the database takes no writes (a standby, or default_transaction_read_only is on)", store.ErrUnavailable)
	}
	if err := tx.QueryRow(ctx, s.sql(`SELECT COALESCE(MAX(version), 0) FROM {schema}.schema_migrations`)).Scan(&version); err != nil {
		return fmt.Errorf("ping postgres store: %w", classify(err))
	}
	return nil
}

// Close makes every later call fail and closes the pool when the store opened
// it; a pool passed to OpenPool stays open. Calls after the first return nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}

// sql returns query with "{schema}." replaced by the store's quoted schema.
func (s *Store) sql(query string) string {
	return s.names.Replace(query)
}

// exec runs one statement and commits it before it returns, in a
// transaction it may share with the statements other goroutines run at the
// same moment (see groupExec); it must not depend on running alone, such as
// a statement that takes a lock it holds until a later statement.
func (s *Store) exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	if s.closed.Load() {
		return pgconn.CommandTag{}, errClosed
	}
	return s.groupExec(ctx, s.sql(query), args)
}

// query runs one query in its own transaction.
func (s *Store) query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.pool.Query(ctx, s.sql(query), args...)
	return rows, classify(err)
}

// queryRow runs a query of one row in its own transaction.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) pgx.Row {
	if s.closed.Load() {
		return errRow{errClosed}
	}
	return classifiedRow{s.pool.QueryRow(ctx, s.sql(query), args...)}
}

// inTx runs fn in a read committed transaction and commits when fn returns
// nil. fn qualifies its queries with s.sql.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	return classify(pgx.BeginFunc(ctx, s.pool, fn))
}

// errRow is a pgx.Row that fails with err.
type errRow struct{ err error }

// Scan returns the row's error.
func (r errRow) Scan(...any) error { return r.err }

// classifiedRow is a pgx.Row whose Scan error goes through classify.
type classifiedRow struct{ row pgx.Row }

// Scan scans the row and classifies its error.
func (r classifiedRow) Scan(dest ...any) error { return classify(r.row.Scan(dest...)) }

// classify marks an error with store.ErrInvalid when the server refused a
// value that SQLite would take: a data exception (class 22), such as a NUL
// byte in text or \u0000 in jsonb, or a key too long to index. It marks an
// error with store.ErrUnavailable when the database cannot serve the call
// now (see unavailable). Other errors come back unchanged.
func classify(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrUnavailable):
		return err
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "54000"):
		return fmt.Errorf("%w: %w", store.ErrInvalid, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// Classify marks err as pgstore's methods do, for callers that run their
// own transactions on the store's pool (see CreateRunTx): with
// store.ErrUnavailable when the database cannot serve the call now (it is
// unreachable, shutting down, read-only, out of resources or reports damaged
// data), with store.ErrInvalid when it refused a value. Other errors come
// back unchanged.
func Classify(err error) error {
	return classify(err)
}

// unavailable reports an error that says the database cannot serve a call
// now, though it may later: it cannot be reached or the connection was lost,
// it is starting or shutting down, out of resources (disk, memory,
// connections), read-only (a standby), or reports damaged data.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableStates[pgErr.Code] || len(pgErr.Code) == 5 && unavailableStates[pgErr.Code[:2]]
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// unavailableStates are the SQLSTATE codes, and classes (their first two
// characters), that unavailable reports.
var unavailableStates = map[string]bool{
	"08":    true, // connection exception
	"53":    true, // insufficient resources: disk full, out of memory, too many connections
	"58":    true, // system error, such as an I/O error
	"57P01": true, // admin shutdown
	"57P02": true, // crash shutdown
	"57P03": true, // cannot connect now: starting up or recovering
	"25006": true, // read-only SQL transaction: a standby
	"XX001": true, // data corrupted
	"XX002": true, // index corrupted
}

// violates reports whether err is a violation of the named constraint with
// the given SQLSTATE.
func violates(err error, code, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code && pgErr.ConstraintName == constraint
}

// SQLSTATE codes the store tells apart.
const (
	codeForeignKey = "23503" // foreign_key_violation
	codeUnique     = "23505" // unique_violation
)

// searchPathSchema returns the first schema a search_path value names, or ""
// when it names none or starts with $user, which the server resolves.
func searchPathSchema(searchPath string) (string, error) {
	first := strings.TrimSpace(searchPath)
	if first == "" {
		return "", nil
	}
	if strings.HasPrefix(first, `"`) {
		var b strings.Builder
		for i := 1; i < len(first); i++ {
			c := first[i]
			if c != '"' {
				b.WriteByte(c)
				continue
			}
			if i+1 < len(first) && first[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			if b.Len() == 0 {
				return "", fmt.Errorf("%w: search_path starts with an empty schema name", store.ErrInvalid)
			}
			if b.String() == "$user" {
				return "", nil
			}
			return b.String(), nil
		}
		return "", fmt.Errorf("%w: search_path has an unterminated quoted schema name", store.ErrInvalid)
	}
	first, _, _ = strings.Cut(first, ",")
	first = strings.TrimSpace(first)
	if first == "$user" {
		return "", nil
	}
	if first == "" {
		return "", fmt.Errorf("%w: search_path starts with an empty schema name", store.ErrInvalid)
	}
	return strings.ToLower(first), nil
}

// validSchema reports an ErrInvalid error when name cannot name a schema.
func validSchema(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: schema name is empty", store.ErrInvalid)
	case len(name) > maxIdentifier:
		return fmt.Errorf("%w: schema name is longer than %d bytes", store.ErrInvalid, maxIdentifier)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: schema name holds a NUL byte", store.ErrInvalid)
	}
	return nil
}

// dsnError says why pgx could not parse a connection string without echoing
// the string, which may hold a password: pgx masks it only on a best-effort
// basis, and the net/url errors it wraps quote the URL whole.
func dsnError(err error) error {
	var parseErr *pgconn.ParseConfigError
	if !errors.As(err, &parseErr) {
		return errors.New("dsn cannot be parsed")
	}
	var urlErr *url.Error
	if errors.As(parseErr, &urlErr) {
		// Its text may quote part of the URL, such as a password taken for a port.
		return errors.New("dsn is not a valid url; percent-encode reserved characters in the user name and password")
	}
	bare := *parseErr
	bare.ConnString = ""
	return errors.New("dsn cannot be parsed: " + strings.TrimPrefix(bare.Error(), "cannot parse ``: "))
}
