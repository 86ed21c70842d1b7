package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// heldJobsSQL is that statement in the store's schema.
	heldJobsSQL string
	// guards are the open guards of the eager runs created here.
	guards guards
}

var _ store.Store = (*Store)(nil)

// newStore returns the cluster store of c on st.
func newStore(st *pgstore.Store, c *Cluster) *Store {
	schema := pgx.Identifier{st.Schema()}.Sanitize() + "."
	s := &Store{Store: st, c: c, heldJobsSQL: strings.ReplaceAll(heldJobsSQL, "{schema}.", schema)}
	s.creates = pgstore.Group[*createReq]{Commit: s.commit, MaxBatch: maxCreateBatch, MaxInFlight: maxCreateTxs}
	return s
}

// createReq is one CreateRun waiting for its transaction to commit.
type createReq struct {
	ctx     context.Context
	run     store.Run
	idemKey string
	ttl     time.Duration
	// eager, for a run this replica executes at once, holds its job back
	// (see eager); start, when set too, is its first attempt's start,
	// made in the same transaction.
	eager *eagerRun
	start *attemptStart
	// batch holds back the job of an eager run (see heldBatch).
	batch *heldBatch

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
//
// A run created for an eager execution (see Cluster.ExecuteNew, which
// marks ctx) gets its job held back until its lease is over.
func (s *Store) CreateRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration) (store.Run, bool, error) {
	e := eagerFrom(ctx)
	if e != nil {
		ctx = context.WithoutCancel(ctx) // see CreateStartAttemptRun
	}
	return s.create(&createReq{ctx: ctx, run: run, idemKey: idemKey, ttl: ttl, eager: e})
}

// CreateStartAttemptRun is store.EagerStarter's: CreateRun of a run taken
// to execute, with its first attempt started in the same transaction. Only
// an eager execution (Cluster.ExecuteNew) calls it; its job is held back
// until its lease is over, so that another replica resumes the run, in
// doubt, only if this one stops answering.
func (s *Store) CreateStartAttemptRun(ctx context.Context, run store.Run, idemKey string, ttl time.Duration, key store.StepKey, start store.AttemptStart) (store.Run, bool, error) {
	if err := store.ValidateEagerStart(run, key, start); err != nil {
		return store.Run{}, false, err
	}
	e := eagerFrom(ctx)
	if e == nil {
		return store.Run{}, false, errNotEager
	}
	if run.TriggerKind == "" {
		run.TriggerKind = store.TriggerKindOf(run.Trigger)
	}
	// The end of the execution's slice must not abort the write that
	// admits the run (the group commit bounds it to a minute).
	ctx = context.WithoutCancel(ctx)
	return s.create(&createReq{ctx: ctx, run: run, idemKey: idemKey, ttl: ttl, eager: e,
		start: &attemptStart{key: key, start: start}})
}

// create queues req in the group commit and waits for its answer.
func (s *Store) create(req *createReq) (store.Run, bool, error) {
	ctx := req.ctx
	req.done = make(chan struct{})
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
		switch {
		case r.err != nil:
			s.c.handed.take(r.run.ID) // kept by fillTx, maybe
			r.stored, r.existed = store.Run{}, false
		case r.eager != nil && !r.existed:
			// Its next write, and the run end hook, know it.
			if r.batch != nil {
				r.batch.commit()
				s.c.eager.held.Store(r.stored.ID, heldRun{batch: r.batch, workflow: r.stored.Workflow})
			}
			s.CacheCreated(r.stored)
		case r.batch != nil:
			// Existed, or not eager: given no held batch after all.
			s.unguard([]*createReq{r})
		}
		close(r.done)
	}
}

// createTx creates reqs' runs and inserts the jobs of those it created
// that are not final, in one transaction, and sets each req's result.
// When every one of reqs is an eager run without an idempotency key (the
// common case: webhooks executed where they are admitted), the
// transaction is one round trip (see createFast); otherwise, or when that
// is refused, it is made the exact way: the
// runs without an idempotency key go in one statement, sent with BEGIN
// (see pgstore.Store.QueueCreateRuns), and so do the held-back jobs of
// those executed eagerly (see queueHeldJobs); River's InsertManyTx inserts
// the other jobs, so that it notifies the replicas of them. A transaction
// costs two round trips (BEGIN with the runs and the held jobs, COMMIT)
// when all its runs are eager, three with River's insert, however many
// runs it holds, and now and then River's notification of new jobs; each
// keyed run costs its own, and the keyed eager runs' held job one more.
// An error rolls all of them back.
func (s *Store) createTx(ctx context.Context, reqs []*createReq) error {
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		return pgstore.Classify(err)
	}
	defer conn.Release()
	if fastCreate(reqs) {
		err := s.createFast(ctx, conn.Conn(), reqs)
		if err != nil {
			s.unguard(reqs)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || errors.Is(err, store.ErrUnavailable) {
			return err // done, or the database cannot say why
		}
		// A statement refused (a taken ID, an attempt that cannot start)
		// and nothing committed: the exact way says which run, and why.
	}
	tx := openTx{conn: conn.Conn()}
	if err := s.fillTx(ctx, tx, reqs); err != nil {
		s.unguard(reqs)
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
			// The connection's state is unknown: it must not go back to
			// the pool.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return pgstore.Classify(err)
	}
	if err := tx.Commit(ctx); err != nil {
		s.unguard(reqs)
		return pgstore.Classify(err)
	}
	return nil
}

// unguard takes reqs, whose create failed, out of the held batches they
// were given, deleting a committed guard's job that no run needs any more.
func (s *Store) unguard(reqs []*createReq) {
	for _, r := range reqs {
		b := r.batch
		if b == nil {
			continue
		}
		r.batch = nil
		if b.abandon() {
			s.c.deleteHeld(b)
		}
	}
}

// fastCreate reports whether createFast can create reqs: each is an
// eager run without an idempotency key.
func fastCreate(reqs []*createReq) bool {
	for _, r := range reqs {
		if r.idemKey != "" || r.eager == nil {
			return false
		}
	}
	return true
}

// createFast creates reqs' runs, starts their first attempts and inserts
// their held-back jobs in one batch with no BEGIN and no COMMIT: one
// implicit transaction, one round trip and one commit. Each statement
// fails on the server unless it wrote every row it had to (see
// pgstore.Store.QueueCreateRunsChecked), so any refusal rolls back the
// whole batch and the caller tries again the exact way. Their results are
// read after the commit: the held jobs' IDs come back with their first
// runs' IDs. It returns the batch's error, classified; on an error no req's
// result holds.
func (s *Store) createFast(ctx context.Context, conn *pgx.Conn, reqs []*createReq) error {
	runs := make([]store.Run, len(reqs))
	for i, r := range reqs {
		runs[i] = r.run
	}
	tokens, opened, err := s.guards.assign(reqs)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	stored, err := s.QueueCreateRunsChecked(b, runs, tokens)
	if err != nil {
		return err
	}
	for i, r := range reqs {
		r.stored, r.existed = stored[i], false
		if r.start != nil {
			if err := s.QueueStartAttemptChecked(b, r.start.key, r.start.start); err != nil {
				return err
			}
		}
	}
	if len(opened) > 0 {
		if err := s.queueHeldJobs(b, opened, nil); err != nil {
			return err
		}
	}
	return pgstore.Classify(conn.SendBatch(ctx, b).Close())
}

// fillTx begins tx and makes createTx's writes in it; see createTx. On an
// error tx may be open, to be rolled back.
func (s *Store) fillTx(ctx context.Context, tx openTx, reqs []*createReq) error {
	var (
		plain, eager []*createReq
		runs         []store.Run
	)
	for _, r := range reqs {
		if r.idemKey == "" {
			plain = append(plain, r)
			runs = append(runs, r.run)
			if r.eager != nil {
				eager = append(eager, r)
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if len(runs) > 0 {
		_, opened, err := s.guards.assign(eager)
		if err != nil {
			return err
		}
		guards := make([]string, 0, len(plain))
		for _, r := range plain {
			token := ""
			if r.batch != nil {
				token = r.batch.token
			}
			guards = append(guards, token)
		}
		stored, err := s.QueueCreateRunsGuarded(b, runs, guards)
		if err != nil {
			return err
		}
		for i, r := range plain {
			r.stored, r.existed = stored[i], false
			if r.start != nil {
				if err := s.QueueStartAttempt(b, r.start.key, r.start.start); err != nil {
					return err
				}
			}
		}
		if len(opened) > 0 {
			if err := s.queueHeldJobs(b, opened, nil); err != nil {
				return err
			}
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
		if r.start != nil && !r.existed {
			b := &pgx.Batch{}
			if err := s.QueueStartAttempt(b, r.start.key, r.start.start); err != nil {
				return err
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
	}
	var (
		params []river.InsertManyParams
		keyed  []*createReq // eager keyed runs created
	)
	for _, r := range reqs {
		if r.existed || r.stored.Status.Final() || r.idemKey == "" && r.eager != nil {
			continue // nothing to queue, or inserted held back with its run
		}
		if r.eager != nil {
			// Held back in a batch of their own: due only if this
			// replica stops answering.
			keyed = append(keyed, r)
			continue
		}
		// River's worker here executes it without a read (see handed):
		// kept before the commit, which River's fetch may follow at once;
		// commit forgets it if the create fails.
		s.c.handed.put(r.stored)
		params = append(params, river.InsertManyParams{Args: RunArgs{RunID: r.stored.ID, Workflow: r.stored.Workflow}})
	}
	if len(keyed) > 0 {
		b := &pgx.Batch{}
		if err := s.queueNamedJobs(b, keyed); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
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
