package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// dsnEnv names the variable that points the tests at a PostgreSQL database,
// such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const dsnEnv = "HERALD_TEST_POSTGRES_DSN"

func TestConformance(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.RunWith(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return openFresh(t)
		},
		// A second Store with its own pool on the same schema, as a second
		// herald serve replica would open it.
		OpenSecond: func(t *testing.T, first store.Store) store.Store {
			return openSchema(t, first.(*Store).Schema())
		},
	})
}

// testDSN returns the test database's DSN, skipping t when there is none.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip(dsnEnv + " is not set; skipping PostgreSQL store tests")
	}
	return dsn
}

// newSchemaName returns a schema name no other test uses and drops the
// schema, if it was made, when t ends (after the stores opened later in t are
// closed, as cleanups run last first).
func newSchemaName(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	name := "herald_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adminExec(t, ctx, dsn, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
	})
	return name
}

// adminExec runs one statement on a connection of its own.
func adminExec(t testing.TB, ctx context.Context, dsn, sql string, args ...any) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn) // takes pool_* settings out of dsn
	require.NoError(t, err)
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err)
}

// withSearchPath returns dsn with its search_path set to schema.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err, "%s must be a URL", dsnEnv)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openFresh creates a new schema, opens a store in it through the DSN's
// search_path, and closes the store and drops the schema when t ends.
func openFresh(t testing.TB) *Store {
	t.Helper()
	schema := newSchemaName(t)
	adminExec(t, context.Background(), testDSN(t), `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	return openSchema(t, schema)
}

// openSchema opens a store in schema, closed when t ends.
func openSchema(t testing.TB, schema string) *Store {
	t.Helper()
	s, err := Open(context.Background(), withSearchPath(t, testDSN(t), schema))
	require.NoError(t, err)
	require.Equal(t, schema, s.Schema())
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// migrationCount returns how many migrations schema_migrations records.
func migrationCount(t testing.TB, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.queryRow(context.Background(), `SELECT COUNT(*) FROM {schema}.schema_migrations`).Scan(&n))
	return n
}

func TestOpenCreatesAMissingSchema(t *testing.T) {
	t.Parallel()
	schema := newSchemaName(t)
	s := openSchema(t, schema)
	require.NoError(t, s.Ping(t.Context()))
	var tables int
	require.NoError(t, s.queryRow(t.Context(), `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1`,
		schema).Scan(&tables))
	require.Equal(t, 12, tables, "runs, idempotency_keys, step_records, step_attempts, run_operations, cron_state, waits, wait_inbox, signal_tokens_used, deliveries, signal_inbox, schema_migrations")
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), migrationCount(t, s))

	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.Empty(t, applied, "the schema is current after Open")
	again := openSchema(t, s.Schema())
	require.NoError(t, again.Ping(t.Context()))
	require.Equal(t, len(ms), migrationCount(t, s), "reopening applies no migration twice")
}

func TestMigrateReportsWhatItApplied(t *testing.T) {
	t.Parallel()
	schema := newSchemaName(t)
	pool, err := pgxpool.New(t.Context(), testDSN(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := OpenPool(t.Context(), pool, Options{Schema: schema, SkipMigrate: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.Error(t, s.Ping(t.Context()), "nothing is migrated yet")

	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	require.Equal(t, Migration{Version: 1, Name: "init"}, applied[0])
	require.Equal(t, "0001_init", applied[0].String())
	require.NoError(t, s.Ping(t.Context()))
}

// TestConcurrentOpensMigrateOnce stands for several herald serve replicas
// starting at once on an empty schema.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	schema := newSchemaName(t)
	const replicas = 8
	stores := make([]*Store, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(t.Context(), withSearchPath(t, testDSN(t), schema))
			if assert.NoError(t, err) {
				stores[i] = s
			}
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { require.NoError(t, s.Close()) })
		}
	}
	require.False(t, t.Failed())
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), migrationCount(t, stores[0]))
	for _, s := range stores {
		require.NoError(t, s.Ping(t.Context()))
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	_, err := s.exec(t.Context(), `INSERT INTO {schema}.schema_migrations (version, name) VALUES (999, 'future')`)
	require.NoError(t, err)

	_, err = Open(t.Context(), withSearchPath(t, testDSN(t), s.Schema()))
	require.ErrorContains(t, err, "schema version 999 is newer than this herald supports")
	_, err = s.Migrate(t.Context())
	require.ErrorContains(t, err, "schema version 999 is newer")
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, len(ms)+1, migrationCount(t, s), "the newer schema is left alone")
}

func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchemaName(t)
	at := time.Date(2026, time.March, 29, 7, 0, 0, 0, time.UTC)

	s, err := Open(ctx, withSearchPath(t, testDSN(t), schema))
	require.NoError(t, err)
	run := store.Run{ID: store.NewRunID(), Workflow: "oncall-digest", Status: store.StatusRunning,
		Trigger: json.RawMessage(`{"kind":"cron"}`), CreatedAt: at}
	_, _, err = s.CreateRun(ctx, run, "cron:oncall-digest:0:2026-03-29T07:00:00Z", 24*time.Hour)
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: at}))
	require.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{
		Status: store.StatusSucceeded, Output: json.RawMessage(`{"sent":true}`), FinishedAt: at.Add(time.Second)}))
	require.NoError(t, s.Close())

	s = openSchema(t, schema)
	recs, err := s.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, store.StatusSucceeded, recs[0].Status)
	again, existed, err := s.CreateRun(ctx, store.Run{ID: store.NewRunID(), Workflow: "oncall-digest",
		Status: store.StatusQueued, CreatedAt: at.Add(time.Minute)}, "cron:oncall-digest:0:2026-03-29T07:00:00Z", 24*time.Hour)
	require.NoError(t, err)
	require.True(t, existed, "idempotency keys survive a restart")
	require.Equal(t, run.ID, again.ID)
}

// TestTwoStoresOnOneSchema stands for two herald serve processes on one
// database: each has its own pool, and they race for the same idempotency
// keys and write items of the same step.
func TestTwoStoresOnOneSchema(t *testing.T) {
	t.Parallel()
	a := openFresh(t)
	b := openSchema(t, a.Schema())
	ctx := t.Context()
	stores := []*Store{a, b}

	const keys, racers = 4, 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]int{}    // key -> creations
		winners = map[string]string{} // key -> run ID every racer got
	)
	for k := range keys {
		for i := range racers {
			wg.Go(func() {
				key := fmt.Sprintf("delivery:support:%d", k)
				run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}
				got, existed, err := stores[i%2].CreateRun(ctx, run, key, time.Hour)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if !existed {
					created[key]++
				}
				if w, ok := winners[key]; ok {
					assert.Equal(t, w, got.ID, "every racer for %s gets the same run", key)
				}
				winners[key] = got.ID
			})
		}
	}
	wg.Wait()
	for k := range keys {
		require.Equal(t, 1, created[fmt.Sprintf("delivery:support:%d", k)], "one creation per key")
	}
	runs, err := b.ListRuns(ctx, store.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, keys)

	run := runs[0]
	for i := range 64 {
		wg.Go(func() {
			s := stores[i%2]
			key := store.StepKey{RunID: run.ID, StepID: "each", Item: i}
			if !assert.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()})) {
				return
			}
			assert.NoError(t, s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded, FinishedAt: time.Now()}))
		})
	}
	wg.Wait()
	recs, err := a.StepRecords(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, recs, 64)
}

func TestOpenPoolLeavesTheSharedPoolOpen(t *testing.T) {
	t.Parallel()
	schema := newSchemaName(t)
	pool, err := pgxpool.New(t.Context(), testDSN(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	s, err := OpenPool(t.Context(), pool, Options{Schema: schema})
	require.NoError(t, err)
	require.Equal(t, schema, s.Schema())
	require.Same(t, pool, s.Pool())
	_, _, err = s.CreateRun(t.Context(), store.Run{ID: "r1", Workflow: "w", Status: store.StatusQueued, CreatedAt: time.Now()}, "", 0)
	require.NoError(t, err)
	var search string
	require.NoError(t, pool.QueryRow(t.Context(), `SHOW search_path`).Scan(&search))
	require.NotContains(t, search, schema, "the store qualifies its tables and leaves the pool's search_path alone")

	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Ping(t.Context()), errClosed)
	require.NoError(t, pool.Ping(t.Context()), "the caller's pool stays open")
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM `+pgx.Identifier{schema, "runs"}.Sanitize()).Scan(&n))
	require.Equal(t, 1, n)

	_, err = OpenPool(t.Context(), nil, Options{})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = OpenPool(t.Context(), pool, Options{Schema: "a_name_much_longer_than_the_sixty_three_bytes_postgresql_keeps_x"})
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestOpenDSN(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	for _, scheme := range []string{"postgres", "postgresql"} {
		u, err := url.Parse(withSearchPath(t, dsn, newSchemaName(t)))
		require.NoError(t, err)
		u.Scheme = scheme
		s, err := OpenDSN(t.Context(), u.String())
		require.NoError(t, err, scheme)
		require.NoError(t, s.Ping(t.Context()))
		require.NoError(t, s.Close())
	}
}

func TestOpenDSNRefusesOtherDrivers(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"sqlite:///var/lib/herald.db", "nonsense", "host=localhost dbname=herald", ""} {
		_, err := OpenDSN(t.Context(), dsn)
		require.ErrorIs(t, err, store.ErrInvalid, dsn)
	}
	_, err := Open(t.Context(), "")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestErrorsNeverEchoThePassword(t *testing.T) {
	t.Parallel()
	const password = "hunter2secret"
	dsns := []string{
		"postgres://herald:" + password + "@127.0.0.1:1/herald?sslmode=disable&connect_timeout=2", // nothing listens
		"postgres://herald:" + password + "@127.0.0.1:notaport/herald",
		"postgres://herald:" + password + "/x@127.0.0.1/herald", // a "/" taken for the end of the host
		"postgres://herald:" + password + "@127.0.0.1/herald?search_path=%22unterminated",
		"host=127.0.0.1 port=notaport user=herald password=" + password,
		"host=127.0.0.1 password='" + password,
	}
	for _, dsn := range dsns {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := Open(ctx, dsn)
		cancel()
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), password)
		require.NotContains(t, err.Error(), "hunter2")
		_, err = OpenDSN(t.Context(), dsn)
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), "hunter2")
	}
}

func TestSearchPathSchema(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                       "",
		"herald":                 "herald",
		"  Herald_Test , public": "herald_test",
		`"Herald Test",public`:   "Herald Test",
		`"a""b"`:                 `a"b`,
		`"$user", public`:        "",
		"$user":                  "",
	}
	for in, want := range tests {
		got, err := searchPathSchema(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{`"unterminated`, `"", public`, ", public"} {
		_, err := searchPathSchema(in)
		require.ErrorIs(t, err, store.ErrInvalid, in)
	}
}

// TestValuesPostgreSQLRefusesAreInvalid covers values that SQLite stores but
// PostgreSQL cannot: a NUL byte in text and the \u0000 escape in jsonb. The
// store reports them as ErrInvalid and stores nothing.
func TestValuesPostgreSQLRefusesAreInvalid(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := t.Context()
	run := store.Run{ID: store.NewRunID(), Workflow: "w", Status: store.StatusRunning, CreatedAt: time.Now()}
	nul := run
	nul.Error = "bad\x00byte"
	_, _, err := s.CreateRun(ctx, nul, "", 0)
	require.ErrorIs(t, err, store.ErrInvalid)
	escaped := run
	escaped.Trigger = json.RawMessage(`{"body":"a\u0000b"}`)
	_, _, err = s.CreateRun(ctx, escaped, "api:w:k", time.Hour)
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetRun(ctx, run.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	_, _, err = s.CreateRun(ctx, run, "", 0)
	require.NoError(t, err)
	key := store.StepKey{RunID: run.ID, StepID: "notify", Item: store.NoItem}
	require.NoError(t, s.StartAttempt(ctx, key, store.AttemptStart{Number: 1, Provider: "chatapi", StartedAt: time.Now()}))
	err = s.FinishAttempt(ctx, key, 1, store.AttemptResult{Status: store.StatusSucceeded,
		Output: json.RawMessage(`{"text":"\u0000"}`), FinishedAt: time.Now()})
	require.ErrorIs(t, err, store.ErrInvalid)
	attempts, err := s.Attempts(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRunning, attempts[0].Status, "the refused finish changed nothing")
}

// TestIDsSortByteWise checks that run IDs order as bytes, whatever the
// database's collation, so pages and ties come out as in the SQLite store.
func TestIDsSortByteWise(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ctx := t.Context()
	at := time.Now()
	// A natural-language collation sorts "B" between "a" and "b" and may
	// ignore "_"; byte-wise it is "B" < "_" < "a" < "b".
	for _, id := range []string{"a", "B", "_", "b"} {
		_, _, err := s.CreateRun(ctx, store.Run{ID: id, Workflow: "w", Status: store.StatusQueued, CreatedAt: at}, "", 0)
		require.NoError(t, err)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{})
	require.NoError(t, err)
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
	}
	require.Equal(t, []string{"b", "a", "_", "B"}, got)
	page, err := s.ListRuns(ctx, store.RunFilter{Before: "a"})
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, "_", page[0].ID)

	// The test database may well sort byte-wise already; the columns must
	// not depend on it.
	var collation string
	require.NoError(t, s.queryRow(ctx, `SELECT collation_name FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'runs' AND column_name = 'id'`, s.Schema()).Scan(&collation))
	require.Equal(t, "C", collation)
}
