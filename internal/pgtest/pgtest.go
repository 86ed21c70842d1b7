// Package pgtest gives tests a PostgreSQL database: the DSN from
// HERALD_TEST_POSTGRES_DSN (tests skip with a clear message without it), a
// fresh schema per test, dropped when the test ends, and a lock that keeps
// a test that restarts the server from running while other tests use it,
// across the test binaries `go test ./...` runs in parallel.
//
// Every test that talks to the server takes the shared lock (Schema does);
// a test that restarts or stops the server takes the exclusive one.
//
// It is for tests only and must not be imported by non-test code.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSNEnv names the variable that points tests at a PostgreSQL database, such
// as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const DSNEnv = "HERALD_TEST_POSTGRES_DSN"

// DSN returns the test database's DSN, skipping t when there is none.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		t.Skip(DSNEnv + " is not set; skipping a test that needs PostgreSQL")
	}
	return dsn
}

// Schema creates a schema no other test uses, takes the shared server lock
// for the rest of t, and returns the schema's name and the DSN with its
// search_path set to it. The schema is dropped when t ends.
func Schema(t testing.TB) (name, dsn string) {
	t.Helper()
	DSN(t)
	Shared(t)
	return NewSchema(t)
}

// NewSchema is Schema without the lock, for a test that holds the
// exclusive lock: a process that holds it must not ask for the shared one.
func NewSchema(t testing.TB) (name, dsn string) {
	t.Helper()
	base := DSN(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name = "herald_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	Exec(t, ctx, base, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		Exec(t, ctx, base, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
	})
	return name, WithSearchPath(t, base, name)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s must be a URL: %v", DSNEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement on a connection of its own, retrying for a while
// when the server does not answer (it may be restarting).
func Exec(t testing.TB, ctx context.Context, dsn, sql string, args ...any) {
	t.Helper()
	var err error
	for {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, dsn); err == nil {
			_, err = conn.Exec(ctx, sql, args...)
			_ = conn.Close(context.WithoutCancel(ctx))
			if err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: %s: %v", sql, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Shared holds the shared server lock until t ends: the server is not
// restarted meanwhile.
func Shared(t testing.TB) { lock(t, syscall.LOCK_SH) }

// Exclusive holds the exclusive server lock until t ends, waiting until no
// other test holds the lock: t may restart the server.
func Exclusive(t testing.TB) { lock(t, syscall.LOCK_EX) }

// RunShared runs a test binary's tests (m.Run) holding the shared server
// lock, for a package whose TestMain guards all its tests at once, and
// returns m.Run's exit code.
func RunShared(m *testing.M) int {
	unlock, err := flock(syscall.LOCK_SH)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer unlock()
	return m.Run()
}

// lock holds an flock until t ends.
func lock(t testing.TB, how int) {
	t.Helper()
	unlock, err := flock(how)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(unlock)
}

// flock takes an flock on a file every test process on the machine shares
// and returns its release.
func flock(how int) (func(), error) {
	path := filepath.Join(os.TempDir(), "herald-postgres-tests.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
