package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/pgstore"
)

// Bounds of the group commit of CreateRun.
const (
	// maxCreateBatch is the most runs one transaction creates.
	maxCreateBatch = 64
	// maxCreateTxs is the most create transactions in flight at once, so
	// admissions leave most of the pool to the runs executing.
	maxCreateTxs = 4
)

// Store is the PostgreSQL store of a cluster: every run CreateRun stores is
// queued as a River job in the same transaction. Its other methods are the
// PostgreSQL store's.
type Store struct {
	*pgstore.Store
	c *Cluster
	// creates group-commits CreateRun.
	creates pgstore.Group[*createReq]
}

var _ store.Store = (*Store)(nil)

// newStore returns the cluster store of c on st.
func newStore(st *pgstore.Store, c *Cluster) *Store {
	s := &Store{Store: st, c: c}
	s.creates = pgstore.Group[*createReq]{Commit: s.commit, MaxBatch: maxCreateBatch, MaxInFlight: maxCreateTxs}
	return s
}

// createReq is one CreateRun waiting for its transaction to commit.
type createReq struct {
	ctx     context.Context
	run     store.Run
	idemKey string
	ttl     time.Duration

	done    chan struct{}
	stored  store.Run
	existed bool
	err     error
}

// CreateRun stores run as pgstore.Store.CreateRun does and, when it created
// a run that is not final, inserts the run's job in the same transaction: a
// run and its job commit together or not at all. A repeat of an idempotency
// key returns the existing run and inserts nothing.
//
// Concurrent calls share transactions (a group commit): a call joins the
// runs waiting while up to four earlier transactions are in flight, and one
// transaction then creates up to 64 runs and inserts their jobs in one
// statement, so that a burst of triggers costs a few round trips and one
// commit instead of four round trips and a commit each. Each call returns
// once its own run is committed. When a shared transaction fails, each of
// its runs is created again in a transaction of its own, so one bad run
// (a taken ID, say) fails alone; when it failed because the database is
// unavailable, every call gets that error, as the commit may have happened.
func (s *Store) CreateRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	req := &createReq{ctx: ctx, run: run, idemKey: idemKey, ttl: ttl, done: make(chan struct{})}
	s.creates.Add(req)
	select {
	case <-req.done:
		return req.stored, req.existed, req.err
	case <-ctx.Done():
		// The run may still commit: like a commit whose answer was lost.
		return store.Run{}, false, pgstore.Classify(ctx.Err())
	}
}

// commit creates batch's runs and their jobs in one transaction, skipping
// the creates whose caller gave up, and answers each create. When the
// transaction fails and held more than one run, it creates each again on
// its own.
func (s *Store) commit(batch []*createReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = pgstore.Classify(err)
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The transaction outlives a caller that gives up while it runs, as it
	// holds the other callers' runs too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), time.Minute)
	defer cancel()
	if err := s.createTx(ctx, live); err != nil {
		for _, r := range live {
			switch {
			case len(live) > 1 && !errors.Is(err, store.ErrUnavailable):
				r.err = s.createTx(r.ctx, []*createReq{r})
			default:
				// Unavailable: the commit may have happened, so creating
				// the runs again could report a taken ID for a run that
				// was stored; each caller gets the error, as before.
				r.err = err
			}
		}
	}
	for _, r := range live {
		if r.err != nil {
			r.stored, r.existed = store.Run{}, false
		}
		close(r.done)
	}
}

// createTx creates reqs' runs and inserts the jobs of those it created
// that are not final, in one transaction, and sets each req's result. The
// runs without an idempotency key go in one statement, sent with BEGIN
// (see pgstore.Store.QueueCreateRuns), so a transaction costs three round
// trips (BEGIN with the runs, the jobs, COMMIT) however many runs it
// holds, and now and then River's notification of new jobs; each keyed
// run costs its own. An error rolls all of them back.
func (s *Store) createTx(ctx context.Context, reqs []*createReq) error {
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		return pgstore.Classify(err)
	}
	defer conn.Release()
	tx := openTx{conn: conn.Conn()}
	if err := s.fillTx(ctx, tx, reqs); err != nil {
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
			// The connection's state is unknown: it must not go back to
			// the pool.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return pgstore.Classify(err)
	}
	return pgstore.Classify(tx.Commit(ctx))
}

// fillTx begins tx and makes createTx's writes in it; see createTx. On an
// error tx may be open, to be rolled back.
func (s *Store) fillTx(ctx context.Context, tx openTx, reqs []*createReq) error {
	var (
		plain []*createReq
		runs  []store.Run
	)
	for _, r := range reqs {
		if r.idemKey == "" {
			plain = append(plain, r)
			runs = append(runs, r.run)
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if len(runs) > 0 {
		stored, err := s.QueueCreateRuns(b, runs)
		if err != nil {
			return err
		}
		for i, r := range plain {
			r.stored, r.existed = stored[i], false
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for _, r := range reqs {
		if r.idemKey == "" {
			continue
		}
		var err error
		if r.stored, r.existed, err = s.CreateRunTx(ctx, tx, r.run, r.idemKey, r.ttl); err != nil {
			return err
		}
	}
	var params []river.InsertManyParams
	for _, r := range reqs {
		if !r.existed && !r.stored.Status.Final() {
			params = append(params, river.InsertManyParams{Args: RunArgs{RunID: r.stored.ID, Workflow: r.stored.Workflow}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := s.c.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("create runs: queue their jobs: %w", err)
	}
	return nil
}
