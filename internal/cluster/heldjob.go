package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/riverqueue/river"
)

// heldJobsSQL inserts held-back jobs (see heldBatch) as River's Insert
// inserts a BatchArgs job with a ScheduledAt (River's pinned version: no
// unique key, priority, metadata and tags as River writes them), in a
// create's first batch of statements instead of a round trip of its own.
// It returns each inserted job's ID with its key: its guard token, or the
// first run it names. The insert either writes every row or fails, so a
// batch that carries its own transaction needs no check of its count.
//
// newStore qualifies its tables with the store's schema.
const heldJobsSQL = `INSERT INTO {schema}.river_job (args, created_at, kind, max_attempts, metadata, priority, queue,
	scheduled_at, state, tags)
SELECT t.args, now(), $3, $4, '{}', $5, $6, t.scheduled_at, 'scheduled', '{}'
FROM unnest($1::jsonb[], $2::timestamptz[]) AS t(args, scheduled_at)
RETURNING id, coalesce(args->>'guard', args->'run_ids'->>0) AS key`

// jobPriority is the priority River gives a job that names none.
const jobPriority = 1

// guardWindow is how long a guard takes new runs once opened: its job is
// due that much later than a run's lease, so a run that joins it last is
// still guarded for its whole lease, and a replica that dies has its runs
// resumed up to that much later.
const guardWindow = time.Second

// heldBatch is one River job held back for eager runs (the runs a replica
// executes at once where it admitted them, and those it queues for its
// next free worker), due when their lease is over, so that should this
// replica stop answering, any replica's River worker queues a job of the
// run's own for each of them still unfinished (see batchWorker) and River
// resumes them from what is stored, as it resumes any run.
//
// Most are guards: the runs created without an idempotency key with the
// same lease within guardWindow of a guard's opening, across create
// transactions, store its token (pgstore.Store.QueueCreateRunsGuarded),
// so a busy replica inserts about one job a second per lease instead of one
// per run (in session 10's profile a run's job insert and delete were a
// fifth of PostgreSQL's CPU per run; one per create transaction still
// left 13%, as most of those held one run). A run joins a guard only once
// the guard's job committed, or in the transaction that inserts it. The
// keyed runs' batch names them in its job instead (their create is made
// run by run).
//
// A run leaves it when it settles (see Cluster.settle): it ended or
// parked, needing no job, or its slice is over and a job of its own
// queues it again. When the last run left, the guard takes no more and its
// job is deleted: in the transaction that ends that run when no other
// was left (see initEager), otherwise by a statement of its own, shared
// with the store's other writes (pgstore.Store.GroupExec). A run whose job
// of its own could not be inserted keeps the job, which then is left to
// fall due. Its fields are guarded by mu.
type heldBatch struct {
	// token is a guard's, stored with its runs; empty for a batch that
	// names its runs.
	token  string
	opened time.Time
	lease  time.Duration

	mu  sync.Mutex
	job int64
	// committed is set once the job's insert committed; closed once the
	// guard takes no more runs.
	committed, closed bool
	// refs counts the runs given this batch and not settled: created, or
	// in a create transaction not answered yet.
	refs int
	// endedWith is the run whose end's transaction carried the job's
	// delete: the last run left.
	endedWith string
	// keep is set when a run settled still needing the job.
	keep bool
}

// heldRun is what a replica keeps of an eager run once its create
// committed: its held batch and its workflow, for a job of its own.
type heldRun struct {
	batch    *heldBatch
	workflow string
}

// join gives the guard one more run, if it is committed and still takes
// runs, and reports whether it did.
func (b *heldBatch) join() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.committed || b.closed || time.Since(b.opened) >= guardWindow {
		return false
	}
	b.refs++
	return true
}

// commit records that the batch's job committed.
func (b *heldBatch) commit() {
	b.mu.Lock()
	b.committed = true
	b.mu.Unlock()
}

// abandon takes back a run given the batch whose create failed, and
// reports whether the caller must delete the batch's job (it was the last
// run, and the job committed).
func (b *heldBatch) abandon() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refs--
	if b.refs > 0 {
		return false
	}
	b.closed = true
	return b.committed && !b.keep
}

// claimEnd reports whether the transaction ending run id, the batch's last
// run, deletes the batch's job, with the job's ID, and if so closes the
// batch and records that it does.
func (b *heldBatch) claimEnd(id string) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refs != 1 || b.keep || !b.committed {
		return 0, false
	}
	b.closed = true
	b.endedWith = id
	return b.job, true
}

// settle takes run id out of the batch: guarded tells whether it needs
// the batch's job no more, ended whether the transaction that ended it
// committed. It reports whether the caller must delete the batch's job:
// the last run left it, none needs the job, and no run's end deleted it.
func (b *heldBatch) settle(id string, guarded, ended bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refs--
	if !guarded {
		b.keep = true
	}
	if b.refs > 0 {
		return false
	}
	b.closed = true
	return !b.keep && !(ended && b.endedWith == id)
}

// guards are the open guards of a replica's store, by lease.
type guards struct {
	mu   sync.Mutex
	open map[time.Duration]*heldBatch
}

// assign gives each of reqs, eager runs without an idempotency key to be
// created together, a guard: the open one of its lease, or one opened for
// them, whose job the create must insert (returned). It returns their
// tokens, in order.
func (g *guards) assign(reqs []*createReq) (tokens []string, opened []*heldBatch, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == nil {
		g.open = map[time.Duration]*heldBatch{}
	}
	tokens = make([]string, len(reqs))
	var mine map[*heldBatch]bool // opened here: joined uncommitted
	for i, r := range reqs {
		r.batch = nil
		if r.run.Status.Final() {
			continue
		}
		lease := r.eager.lease
		b := g.open[lease]
		switch {
		case b != nil && mine[b]:
			b.mu.Lock()
			b.refs++
			b.mu.Unlock()
		case b != nil && b.join():
		default:
			var raw [12]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return nil, nil, err
			}
			b = &heldBatch{token: hex.EncodeToString(raw[:]), opened: time.Now(), lease: lease, refs: 1}
			g.open[lease] = b
			if mine == nil {
				mine = map[*heldBatch]bool{}
			}
			mine[b] = true
			opened = append(opened, b)
		}
		r.batch = b
		tokens[i] = b.token
	}
	return tokens, opened, nil
}

// queueHeldJobs queues on b, the batch of a create transaction after the
// statements that create its runs, the insert of held: the guards opened
// for them, due guardWindow and their lease after their opening, and the
// batches of runs named in their jobs. The job's ID is set when the
// batch's results are read, and the callback fails when a job was not
// inserted, so that the caller rolls the transaction back.
func (s *Store) queueHeldJobs(b *pgx.Batch, held []*heldBatch, named [][]string) error {
	var (
		args   = make([][]byte, len(held))
		due    = make([]pgtype.Timestamptz, len(held))
		byKey  = make(map[string]*heldBatch, len(held))
		insert = BatchArgs{}.InsertOpts()
	)
	for i, hb := range held {
		a := BatchArgs{Guard: hb.token}
		key := hb.token
		at := hb.opened.Add(hb.lease)
		if hb.token == "" {
			a.RunIDs, key = named[i], named[i][0]
		} else {
			at = at.Add(guardWindow)
		}
		var err error
		if args[i], err = json.Marshal(a); err != nil {
			return err
		}
		due[i] = pgtype.Timestamptz{Time: at, Valid: true}
		byKey[key] = hb
	}
	b.Queue(s.heldJobsSQL, args, due, BatchJobKind, insert.MaxAttempts, jobPriority, insert.Queue).
		Query(func(rows pgx.Rows) error {
			var (
				id  int64
				key string
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &key}, func() error {
				if hb, ok := byKey[key]; ok {
					hb.mu.Lock()
					hb.job = id
					hb.mu.Unlock()
				}
				return nil
			})
			if err != nil {
				return err
			}
			for key, hb := range byKey {
				hb.mu.Lock()
				job := hb.job
				hb.mu.Unlock()
				if job == 0 {
					return fmt.Errorf("create runs: the held job %s was not inserted", key)
				}
			}
			return nil
		})
	return nil
}

// queueNamedJobs queues on b the insert of one held job naming reqs, eager
// runs created in its transaction (the keyed ones, created run by run),
// grouped by lease; see queueHeldJobs.
func (s *Store) queueNamedJobs(b *pgx.Batch, reqs []*createReq) error {
	var (
		byLease = map[time.Duration]int{}
		held    []*heldBatch
		named   [][]string
		now     = time.Now()
	)
	for _, r := range reqs {
		i, ok := byLease[r.eager.lease]
		if !ok {
			i = len(held)
			byLease[r.eager.lease] = i
			held = append(held, &heldBatch{opened: now, lease: r.eager.lease})
			named = append(named, nil)
		}
		held[i].refs++
		named[i] = append(named[i], r.stored.ID)
		r.batch = held[i]
	}
	return s.queueHeldJobs(b, held, named)
}

// batchWorker executes a batch's held job that fell due: the replica that
// held it stopped answering, or left a run of the batch with no job of its
// own (see heldBatch).
type batchWorker struct {
	river.WorkerDefaults[BatchArgs]
	c *Cluster
}

// Timeout bounds one batch job: a read and an insert.
func (w *batchWorker) Timeout(*river.Job[BatchArgs]) time.Duration { return 30 * time.Second }

// Work queues a run's job for each run of the batch still queued or
// running that has no live job of its own (any Wake), so that River
// resumes it; a run that ended, parked or has a job is left alone. Run
// again (the job retried), it finds the jobs it queued.
func (w *batchWorker) Work(ctx context.Context, job *river.Job[BatchArgs]) error {
	c := w.c
	rows, err := c.opts.Store.Pool().Query(ctx, c.eager.orphansSQL, job.Args.RunIDs, JobKind, liveStateNames, job.Args.Guard)
	if err != nil {
		return fmt.Errorf("read a batch's runs: %w", err)
	}
	var (
		params       []river.InsertManyParams
		id, workflow string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &workflow}, func() error {
		params = append(params, river.InsertManyParams{Args: RunArgs{RunID: id, Workflow: workflow}})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read a batch's runs: %w", err)
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := c.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue a batch's runs: %w", err)
	}
	c.log.Info("a held batch fell due; its unfinished runs are queued", "job_id", job.ID, "runs", len(params))
	return nil
}

// orphansSQL returns the statement batchWorker reads: of the runs $1 and
// those of guard $4, those queued or running with no job of kind $2 in a
// state of $3 naming them.
func orphansSQL(schema string) string {
	runs := pgx.Identifier{schema, "runs"}.Sanitize()
	jobs := pgx.Identifier{schema, "river_job"}.Sanitize()
	return `SELECT r.id, r.workflow FROM ` + runs + ` r
WHERE (r.id = ANY($1::text[]) OR r.guard = $4) AND r.status IN ('queued', 'running')
	AND NOT EXISTS (SELECT 1 FROM ` + jobs + ` j WHERE j.kind = $2
		AND j.args @> jsonb_build_object('run_id', r.id)
		AND j.state::text = ANY($3::text[]))
ORDER BY r.created_at, r.id`
}

// batchedRunsSQL returns the statement Adopt reads: the runs named by a
// held job of kind $1 in a state of $2, or unfinished with its guard.
func batchedRunsSQL(schema string) string {
	jobs := pgx.Identifier{schema, "river_job"}.Sanitize()
	return `SELECT jsonb_array_elements_text(args->'run_ids') FROM ` + jobs + ` WHERE kind = $1
	AND state::text = ANY($2::text[]) AND args ? 'run_ids'
UNION
SELECT r.id FROM ` + pgx.Identifier{schema, "runs"}.Sanitize() + ` r WHERE r.status IN ('queued', 'running')
	AND r.guard IN (SELECT j.args->>'guard' FROM ` + jobs + ` j WHERE j.kind = $1 AND j.state::text = ANY($2::text[]))`
}

// liveStateNames are liveStates as text, for the statements above.
var liveStateNames = func() []string {
	names := make([]string, len(liveStates))
	for i, s := range liveStates {
		names[i] = string(s)
	}
	return names
}()
