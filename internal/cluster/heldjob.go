package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/riverqueue/river"
)

// heldJobsSQL inserts the held-back jobs of a create's batches of eager
// runs (see heldBatch), one job per batch, as River's Insert inserts a
// BatchArgs job with a ScheduledAt (River's pinned version: no unique key,
// priority, metadata and tags as River writes them), in the create's first
// batch of statements instead of a round trip of its own. It returns each
// inserted job's ID with the first run it names. The insert either writes
// every row or fails, so a batch that carries its own transaction needs no
// check of its count.
//
// newStore qualifies its tables with the store's schema.
const heldJobsSQL = `INSERT INTO {schema}.river_job (args, created_at, kind, max_attempts, metadata, priority, queue,
	scheduled_at, state, tags)
SELECT t.args, now(), $3, $4, '{}', $5, $6, t.scheduled_at, 'scheduled', '{}'
FROM unnest($1::jsonb[], $2::timestamptz[]) AS t(args, scheduled_at)
RETURNING id, args->'run_ids'->>0 AS run`

// jobPriority is the priority River gives a job that names none.
const jobPriority = 1

// heldBatch is the one River job held back for the eager runs one create
// transaction stored with the same lease (the runs executed at once where
// they were admitted, and those queued here for the next free worker): the
// job names them all and is due when their lease is over, so that, should
// this replica stop answering, any replica's River worker queues a job of
// the run's own for each of them still unfinished (see batchWorker), and
// River resumes them from what is stored, as it resumes any run. One job
// per batch instead of one per run saves each run a job's insert and its
// delete (a fifth of PostgreSQL's CPU per run in session 10's profile).
//
// A run leaves its batch when it settles (see Cluster.settle): it ended or
// parked, needing no job, or its slice is over and a job of its own
// queues it again. When the last run settles the batch's job is deleted:
// in the transaction that ends that run when it is the last to end (see
// initEager), otherwise by a statement of its own, shared with the
// store's other writes (pgstore.Store.GroupExec). A run whose job of its
// own could not be inserted stays guarded by the batch's job, which then
// is left to fall due. Its fields are guarded by mu.
type heldBatch struct {
	mu  sync.Mutex
	job int64
	// left counts the batch's runs not settled yet.
	left int
	// endedWith is the run whose end's transaction carried the job's
	// delete: the last of the batch to end, when no other was left.
	endedWith string
	// keep is set when a run settled still needing the job.
	keep bool
}

// heldRun is what a replica keeps of an eager run once its create
// committed: its batch and its workflow, for a job of its own.
type heldRun struct {
	batch    *heldBatch
	workflow string
}

// claimEnd reports whether the transaction ending run id, the batch's last
// run not settled, deletes the batch's job, and if so records that it
// does.
func (b *heldBatch) claimEnd(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left != 1 || b.keep {
		return false
	}
	b.endedWith = id
	return true
}

// settle takes run id out of the batch: guarded tells whether it needs
// the batch's job no more, ended whether the transaction that ended it
// committed. It reports whether the caller must delete the batch's job:
// the last run left it, none needs the job, and no run's end deleted it.
func (b *heldBatch) settle(id string, guarded, ended bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left--
	if !guarded {
		b.keep = true
	}
	return b.left == 0 && !b.keep && !(ended && b.endedWith == id)
}

// queueHeldJobs queues on b, the batch of a create transaction after the
// statements that create reqs' runs, the insert of their held-back jobs:
// one per lease among reqs (see heldBatch), due that lease after now. It
// sets each req's batch; the job's ID is set when the batch's results are
// read, and the callback fails when a job was not inserted, so that the
// caller rolls the transaction back.
func (s *Store) queueHeldJobs(b *pgx.Batch, reqs []*createReq) error {
	var (
		now     = time.Now()
		byLease = map[time.Duration]int{}
		groups  [][]*createReq
	)
	for _, r := range reqs {
		i, ok := byLease[r.eager.lease]
		if !ok {
			i = len(groups)
			byLease[r.eager.lease] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	var (
		args    = make([][]byte, len(groups))
		due     = make([]pgtype.Timestamptz, len(groups))
		batches = make(map[string]*heldBatch, len(groups)) // by first run
		insert  = BatchArgs{}.InsertOpts()
	)
	for i, g := range groups {
		ids := make([]string, len(g))
		for j, r := range g {
			ids[j] = r.stored.ID
		}
		var err error
		if args[i], err = json.Marshal(BatchArgs{RunIDs: ids}); err != nil {
			return err
		}
		due[i] = pgtype.Timestamptz{Time: now.Add(g[0].eager.lease), Valid: true}
		hb := &heldBatch{left: len(g)}
		batches[ids[0]] = hb
		for _, r := range g {
			r.batch = hb // a try before this one may have set another
		}
	}
	b.Queue(s.heldJobsSQL, args, due, BatchJobKind, insert.MaxAttempts, jobPriority, insert.Queue).
		Query(func(rows pgx.Rows) error {
			var (
				id  int64
				run string
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &run}, func() error {
				if hb, ok := batches[run]; ok {
					hb.job = id
				}
				return nil
			})
			if err != nil {
				return err
			}
			for first, hb := range batches {
				if hb.job == 0 {
					return fmt.Errorf("create run %s: its batch's job was not inserted", first)
				}
			}
			return nil
		})
	return nil
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
	rows, err := c.opts.Store.Pool().Query(ctx, c.eager.orphansSQL, job.Args.RunIDs, JobKind, liveStateNames)
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

// orphansSQL returns the statement batchWorker reads: of the runs $1, those
// queued or running with no job of kind $2 in a state of $3 naming them.
func orphansSQL(schema string) string {
	runs := pgx.Identifier{schema, "runs"}.Sanitize()
	jobs := pgx.Identifier{schema, "river_job"}.Sanitize()
	return `SELECT r.id, r.workflow FROM ` + runs + ` r
WHERE r.id = ANY($1::text[]) AND r.status IN ('queued', 'running')
	AND NOT EXISTS (SELECT 1 FROM ` + jobs + ` j WHERE j.kind = $2
		AND j.args @> jsonb_build_object('run_id', r.id)
		AND j.state::text = ANY($3::text[]))
ORDER BY r.created_at, r.id`
}

// batchedRunsSQL returns the statement Adopt reads: the runs named by a
// batch job of kind $1 in a state of $2.
func batchedRunsSQL(schema string) string {
	return `SELECT DISTINCT jsonb_array_elements_text(args->'run_ids') FROM ` +
		pgx.Identifier{schema, "river_job"}.Sanitize() + ` WHERE kind = $1
	AND state::text = ANY($2::text[])`
}

// liveStateNames are liveStates as text, for the statements above.
var liveStateNames = func() []string {
	names := make([]string, len(liveStates))
	for i, s := range liveStates {
		names[i] = string(s)
	}
	return names
}()
