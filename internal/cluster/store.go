package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// Store is the PostgreSQL store of a cluster: every run CreateRun stores is
// queued as a River job in the same transaction. Its other methods are the
// PostgreSQL store's.
type Store struct {
	*pgstore.Store
	c *Cluster
}

var _ store.Store = (*Store)(nil)

// CreateRun stores run as pgstore.Store.CreateRun does and, when it created
// a run that is not final, inserts the run's job in the same transaction: a
// run and its job commit together or not at all. A repeat of an idempotency
// key returns the existing run and inserts nothing.
func (s *Store) CreateRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	var (
		stored  store.Run
		existed bool
	)
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		var err error
		stored, existed, err = s.CreateRunTx(ctx, tx, run, idemKey, ttl)
		if err != nil || existed || stored.Status.Final() {
			return err
		}
		if _, err := s.c.client.InsertTx(ctx, tx, RunArgs{RunID: stored.ID, Workflow: stored.Workflow}, nil); err != nil {
			return fmt.Errorf("create run %s: queue its job: %w", stored.ID, err)
		}
		return nil
	})
	if err != nil {
		return store.Run{}, false, pgstore.Classify(err)
	}
	return stored, existed, nil
}
