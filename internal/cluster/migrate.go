package cluster

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/heraldhq/herald/internal/store/pgstore"
)

// Migrate brings River's tables in the store's schema up to date, together
// with the table of shared rate limits, and returns the names of the
// migrations it applied ("river 6 …", "rate limits"), none when all were
// current. Herald's own tables are migrated when the store opens.
//
// Replicas starting at once take turns: the migration holds a PostgreSQL
// advisory lock on the schema for its whole run (River's migrator takes
// none itself).
func Migrate(ctx context.Context, st *pgstore.Store, logger hclog.Logger) ([]string, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	defer conn.Release()
	key := migrateLockKey(st.Schema())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return nil, fmt.Errorf("migrate river: take lock: %w", err)
	}
	defer func() {
		// A lost connection has released the lock already.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(st.Pool()), &rivermigrate.Config{
		Schema: st.Schema(),
		Logger: newSlogger(logger.Named("river")),
	})
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	var applied []string
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %03d_%s", v.Version, v.Name))
	}
	created, err := createRateTable(ctx, conn.Conn(), st.Schema())
	if err != nil {
		return applied, fmt.Errorf("migrate rate limits: %w", err)
	}
	if created {
		applied = append(applied, "herald provider_rate_limits")
	}
	return applied, nil
}

// createRateTable creates the table of shared rate limits unless it exists
// and reports whether it did.
func createRateTable(ctx context.Context, conn *pgx.Conn, schema string) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`,
		pgx.Identifier{schema, rateTable}.Sanitize()).Scan(&exists); err != nil {
		return false, err
	}
	if exists {
		return false, nil
	}
	// The theoretical arrival time of the next call (GCRA) per instance.
	_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{schema, rateTable}.Sanitize()+` (
		instance text COLLATE "C" PRIMARY KEY,
		tat      timestamptz NOT NULL
	)`)
	return err == nil, err
}

// migrateLockKey returns the advisory lock key that serialises River
// migrations of one schema.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("herald/cluster/migrate\x00" + schema))
	return int64(h.Sum64())
}
