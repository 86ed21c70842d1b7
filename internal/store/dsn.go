package store

import (
	"fmt"
	"path/filepath"
	"strings"
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
}

// DefaultDSN returns the store used when none is configured:
// sqlite://<projectDir>/.herald/herald.db.
func DefaultDSN(projectDir string) string {
	return "sqlite://" + filepath.ToSlash(filepath.Join(projectDir, ".herald", "herald.db"))
}

// ParseDSN parses a store DSN. SQLite DSNs are "sqlite://" followed by a file
// path, relative ("sqlite://workflows/.herald/herald.db") or absolute
// ("sqlite:///var/lib/herald.db"); "sqlite:" followed by a path is accepted
// too. PostgreSQL DSNs start with "postgres://" or "postgresql://" and are
// kept whole. Errors name the scheme only, never the DSN, which may hold a
// password.
func ParseDSN(dsn string) (DSN, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok || scheme == "" {
		return DSN{}, fmt.Errorf("%w: store dsn has no scheme, want sqlite:// or postgres://", ErrInvalid)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return DSN{}, fmt.Errorf("%w: sqlite store dsn has no file path", ErrInvalid)
		}
		return DSN{Driver: DriverSQLite, Path: filepath.FromSlash(path)}, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return DSN{}, fmt.Errorf("%w: postgres store dsn must start with %s://", ErrInvalid, scheme)
		}
		return DSN{Driver: DriverPostgres, URL: dsn}, nil
	}
	return DSN{}, fmt.Errorf("%w: unsupported store dsn scheme %q, want sqlite or postgres", ErrInvalid, scheme)
}
