package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn  string
		want DSN
	}{
		{"sqlite://workflows/.herald/herald.db", DSN{Driver: DriverSQLite, Path: filepath.FromSlash("workflows/.herald/herald.db")}},
		{"sqlite:///var/lib/herald/herald.db", DSN{Driver: DriverSQLite, Path: filepath.FromSlash("/var/lib/herald/herald.db")}},
		{"sqlite:herald.db", DSN{Driver: DriverSQLite, Path: "herald.db"}},
		{"SQLite3://x.db", DSN{Driver: DriverSQLite, Path: "x.db"}},
		{"sqlite:///var/lib/herald.db?busy_timeout=250ms", DSN{Driver: DriverSQLite, Path: filepath.FromSlash("/var/lib/herald.db"), BusyTimeout: 250 * time.Millisecond}},
		{"sqlite://x.db?busy_timeout=1m", DSN{Driver: DriverSQLite, Path: "x.db", BusyTimeout: time.Minute}},
		{"postgres://u:p@db:5432/herald?sslmode=disable", DSN{Driver: DriverPostgres, URL: "postgres://u:p@db:5432/herald?sslmode=disable"}},
		{"postgresql://db/herald", DSN{Driver: DriverPostgres, URL: "postgresql://db/herald"}},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDSN(tt.dsn)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseDSNRejects(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", "herald.db", "sqlite://", "sqlite:", "mysql://u:secret@h/db", "postgres:secret@h",
		"sqlite://x.db?busy_timeout=0s", "sqlite://x.db?busy_timeout=2h", "sqlite://x.db?busy_timeout=500",
		"sqlite://x.db?busy_timeout=1s&busy_timeout=2s", "sqlite://x.db?cache=shared", "sqlite://?busy_timeout=1s"} {
		t.Run(dsn, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDSN(dsn)
			require.ErrorIs(t, err, ErrInvalid)
			require.NotContains(t, err.Error(), "secret", "errors must not leak credentials")
		})
	}
}

func TestDefaultDSNParsesToTheProjectDatabase(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"workflows", "./workflows", "/srv/project"} {
		got, err := ParseDSN(DefaultDSN(dir))
		require.NoError(t, err)
		require.Equal(t, DriverSQLite, got.Driver)
		require.Equal(t, filepath.Join(dir, ".herald", "herald.db"), got.Path)
	}
}
