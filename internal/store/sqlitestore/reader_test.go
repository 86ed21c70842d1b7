package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadTransactionsNeverWaitForAConnection holds every connection of the
// read pool in a read transaction, then has each run queries that have no
// prepared statement yet: preparing one must not need a second connection,
// which none of them would ever get.
func TestReadTransactionsNeverWaitForAConnection(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	conns := s.read.db.Stats().MaxOpenConnections
	require.Positive(t, conns)
	query := fmt.Sprintf("SELECT COUNT(*) FROM runs WHERE workflow = ? AND %d = %d", conns, conns)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var inside, wg sync.WaitGroup
	inside.Add(conns)
	errs := make(chan error, conns)
	for range conns {
		wg.Go(func() {
			errs <- s.read.inTx(ctx, func(tx *readTx) error {
				inside.Done()
				inside.Wait() // every connection is now held
				var n int
				if err := tx.QueryRowContext(ctx, query, "w").Scan(&n); err != nil {
					return err
				}
				rows, err := tx.QueryContext(ctx, query+" AND 1 = 1", "w")
				if err != nil {
					return err
				}
				return rows.Close()
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NotNil(t, s.read.cached(query), "the query is prepared once the transactions are done")
}

// TestReadConnectionsBoundTheirPageCache checks that every connection of
// the read pool keeps at most readerCacheKiB of pages and is read-only,
// and that the writer keeps at most writerCacheKiB.
func TestReadConnectionsBoundTheirPageCache(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	conns := s.read.db.Stats().MaxOpenConnections
	held := make([]*sql.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range conns {
		c, err := s.read.db.Conn(ctx)
		require.NoError(t, err)
		held = append(held, c)
		var cache, queryOnly int
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache))
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly))
		require.Equal(t, -readerCacheKiB, cache, "a negative cache_size is KiB")
		require.Equal(t, 1, queryOnly)
	}
	var writerCache int
	require.NoError(t, s.w.conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&writerCache))
	require.Equal(t, -writerCacheKiB, writerCache, "the writer's cache is bounded too")
}
