package pgstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema as numbered steps, NNNN_name.sql, applied in
// order. A released file never changes: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration names one numbered schema step.
type Migration struct {
	// Version is the step's number, from 1.
	Version int
	// Name is the rest of the step's file name, such as "init".
	Name string
}

// String returns the migration's file name without .sql, such as "0001_init".
func (m Migration) String() string {
	return fmt.Sprintf("%04d_%s", m.Version, m.Name)
}

// migration is one embedded schema step and its SQL.
type migration struct {
	Migration
	sql string
}

// loadMigrations returns the embedded migrations ordered by version.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{Migration: Migration{Version: version, Name: name}, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must run 1, 2, 3 without gaps", m)
		}
	}
	return ms, nil
}

// Migrate brings the store's schema up to date and returns the migrations it
// applied, none when the schema was current. Open and OpenPool call it unless
// told not to; a `herald migrate` command may call it to report what it did.
//
// It works in one transaction that first takes an advisory lock for the
// schema, so processes migrating the same schema at once wait for each other
// and apply each step exactly once; it creates the schema when it is missing.
// A schema newer than this binary knows is refused and left alone.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	return s.migrateTo(ctx, 0)
}

// migrateTo is Migrate up to and including migration version, or every
// migration when version is 0: the tests build a schema as an older
// herald left it.
func (s *Store) migrateTo(ctx context.Context, version int) ([]Migration, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	known := len(ms)
	if version > 0 && version < len(ms) {
		ms = ms[:version]
	}
	var applied []Migration
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey(s.schema)); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`,
			s.schema).Scan(&exists); err != nil {
			return fmt.Errorf("look up schema: %w", err)
		}
		quoted := pgx.Identifier{s.schema}.Sanitize()
		// Checked first, so a role that may not create schemas can use one
		// made for it.
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+quoted); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, s.sql(`CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, s.sql(`SELECT COALESCE(MAX(version), 0) FROM {schema}.schema_migrations`)).
			Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > known {
			return fmt.Errorf("schema version %d is newer than this herald supports (%d); upgrade herald", current, known)
		}
		if current >= len(ms) {
			return nil
		}
		// The files name tables without a schema; SET LOCAL ends with the
		// transaction.
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+quoted); err != nil {
			return fmt.Errorf("set search_path: %w", err)
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m, err)
			}
			if _, err := tx.Exec(ctx, s.sql(`INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)`),
				m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m, err)
			}
			applied = append(applied, m.Migration)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

// migrateLockKey returns the advisory lock key that serialises migrations of
// one schema; other schemas of the database migrate independently.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("herald/pgstore/migrate\x00" + schema))
	return int64(h.Sum64())
}
