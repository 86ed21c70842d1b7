package store

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// The store drivers a DSN can name.
const (
	// DriverSQLite stores in one SQLite file.
	DriverSQLite = "sqlite"
	// DriverPostgres stores in a PostgreSQL database, for scale-out.
	DriverPostgres = "postgres"
)

// DSN is a parsed store location, as given by --store or HERALD_STORE.
type DSN struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// Path is the SQLite database file; empty for PostgreSQL.
	Path string
	// URL is the PostgreSQL connection string as given; empty for SQLite.
	URL string
	// BusyTimeout is how long a SQLite write waits for a lock another
	// process holds before it fails with ErrUnavailable, as set by the
	// DSN's busy_timeout parameter; zero means the store's default.
	BusyTimeout time.Duration
}

// MaxBusyTimeout is the longest busy_timeout a SQLite DSN may set: a write
// waiting longer would outlast the HTTP API's write timeout.
const MaxBusyTimeout = time.Minute

// DefaultDSN returns the store used when none is configured:
// sqlite://<projectDir>/.herald/herald.db.
func DefaultDSN(projectDir string) string {
	return "sqlite://" + filepath.ToSlash(filepath.Join(projectDir, ".herald", "herald.db"))
}

// ParseDSN parses a store DSN. SQLite DSNs are "sqlite://" followed by a file
// path, relative ("sqlite://workflows/.herald/herald.db") or absolute
// ("sqlite:///var/lib/herald.db"); "sqlite:" followed by a path is accepted
// too. A SQLite path may be followed by "?busy_timeout=DURATION" (such as
// "2s"; at most MaxBusyTimeout), so the path cannot hold a "?".
// PostgreSQL DSNs start with "postgres://" or "postgresql://" and are kept
// whole. Errors name the scheme only, never the DSN, which may hold a
// password.
func ParseDSN(dsn string) (DSN, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok || scheme == "" {
		return DSN{}, fmt.Errorf("%w: store dsn has no scheme, want sqlite:// or postgres://", ErrInvalid)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		path, query, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
		if path == "" {
			return DSN{}, fmt.Errorf("%w: sqlite store dsn has no file path", ErrInvalid)
		}
		d := DSN{Driver: DriverSQLite, Path: filepath.FromSlash(path)}
		if err := d.sqliteParams(query); err != nil {
			return DSN{}, err
		}
		return d, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return DSN{}, fmt.Errorf("%w: postgres store dsn must start with %s://", ErrInvalid, scheme)
		}
		return DSN{Driver: DriverPostgres, URL: dsn}, nil
	}
	return DSN{}, fmt.Errorf("%w: unsupported store dsn scheme %q, want sqlite or postgres", ErrInvalid, scheme)
}

// sqliteParams applies the query parameters of a SQLite DSN.
func (d *DSN) sqliteParams(query string) error {
	params, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("%w: sqlite store dsn has a malformed query: %w", ErrInvalid, err)
	}
	for name, values := range params {
		if name != "busy_timeout" {
			return fmt.Errorf("%w: sqlite store dsn has unknown parameter %q (want busy_timeout)", ErrInvalid, name)
		}
		if len(values) != 1 {
			return fmt.Errorf("%w: sqlite store dsn sets busy_timeout more than once", ErrInvalid)
		}
		timeout, err := time.ParseDuration(values[0])
		if err != nil || timeout <= 0 || timeout > MaxBusyTimeout {
			return fmt.Errorf("%w: sqlite store dsn: busy_timeout %q is not a duration from 1ms to %s, such as 5s", ErrInvalid, values[0], MaxBusyTimeout)
		}
		d.BusyTimeout = timeout.Round(time.Millisecond)
	}
	return nil
}
